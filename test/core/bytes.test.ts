import fc from "fast-check";
import { CoreError, equalBytes, fromHex, to0xHex, toHex } from "../../services/core";

test("hex round trip, with or without 0x", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), (b) => {
      return (
        equalBytes(fromHex(toHex(b)), b) &&
        equalBytes(fromHex(to0xHex(b)), b) &&
        toHex(b) === Buffer.from(b).toString("hex")
      );
    }),
  );
});

test.each(["abc", "0xAB", "zz", "0x0g", "é0", "0é", "0a\u4e2d0"])("fromHex refuses %j", (hex) => {
  expect(() => fromHex(hex)).toThrow(
    expect.objectContaining({
      constructor: CoreError,
      code: "INVALID_ARGUMENT",
      message: "expected lowercase hex of whole bytes",
    }),
  );
});

test("equalBytes compares length and content", () => {
  expect(equalBytes(Uint8Array.of(1, 2), Uint8Array.of(1, 2))).toBe(true);
  expect(equalBytes(Uint8Array.of(1, 2), Uint8Array.of(1))).toBe(false);
  expect(equalBytes(Uint8Array.of(1, 2), Uint8Array.of(1, 3))).toBe(false);
});
