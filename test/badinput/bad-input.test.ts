import { randomBytes, randomUUID } from "node:crypto";
import { ERRORS, type ErrorCode } from "../../services/errors";
import { bearer, type TestTenant } from "../helpers/api";
import { startTestStack, type TestStack } from "../helpers/stack";
import { exchange, requestBytes, rowCounts, send, type RawRequest, type RawResponse } from "./harness";

// Malformed requests of every kind, written byte for byte on sockets to the real listening API
// (PostgreSQL, Redis, anvil behind it): bodies, headers, queries, paths, broken HTTP and slow
// clients. Each must get the 4xx its catalogue code says, in the catalogue's shape, and leave
// every table as it was. The suite prints a summary line.

jest.setTimeout(60_000);

let stack: TestStack;
let port: number;
let a: TestTenant;
let b: TestTenant;
/** Made before the baseline: what some cases need to exist. */
const setup = {
  /** A's deposit, made with Idempotency-Key `setup-key` and `setupDigest`. */
  aDeposit: "",
  bDeposit: "",
  /** B's list cursor and feed cursor, which A may not use. */
  bCursor: "",
  bFeedCursor: "",
};
const setupDigest = randomBytes(32).toString("hex");
let baseline: Record<string, number>;
const results: { name: string; status: number; code: string }[] = [];

const BULK_MAX = 5;
const REQUEST_TIMEOUT_MS = 2000;

beforeAll(async () => {
  stack = await startTestStack({
    workers: false,
    env: {
      BULK_MAX: String(BULK_MAX),
      HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
      HTTP_HEADERS_TIMEOUT_MS: "1000",
    },
  });
  await stack.app.listen({ port: 0, host: "127.0.0.1" });
  port = (stack.app.server.address() as { port: number }).port;
  [a, b] = [await stack.tenant(), await stack.tenant()];
  const inject = async (tenant: TestTenant, method: "GET" | "POST", url: string, o: object = {}) => {
    const res = await stack.app.inject({ method, url, headers: bearer(tenant), ...o });
    expect(res.statusCode).toBeLessThan(300);
    return res;
  };
  setup.aDeposit = (
    await inject(a, "POST", "/v1/deposits", {
      payload: { digest: setupDigest },
      headers: { ...bearer(a), "idempotency-key": "setup-key" },
    })
  ).json().id;
  for (let i = 0; i < 2; i++) {
    setup.bDeposit = (
      await inject(b, "POST", "/v1/deposits", { payload: { digest: randomBytes(32).toString("hex") } })
    ).json().id;
  }
  setup.bCursor = (await inject(b, "GET", "/v1/deposits?limit=1")).json().nextCursor;
  setup.bFeedCursor = (await inject(b, "GET", "/v1/certificates?since=now")).headers[
    "x-next-cursor"
  ] as string;
  expect(setup.bCursor).toEqual(expect.any(String));
  expect(setup.bFeedCursor).toEqual(expect.any(String));
  await inject(a, "GET", "/v1/deposits?limit=1");
  baseline = await rowCounts(stack.config.DATABASE_URL);
  expect(baseline.deposits).toBe(3);
});

afterAll(async () => {
  const codes = new Map<string, number>();
  for (const r of results) codes.set(r.code, (codes.get(r.code) ?? 0) + 1);
  const fourxx = results.filter((r) => r.status >= 400 && r.status < 500).length;
  console.log(
    `bad-input summary: ${results.length} cases, ${fourxx} answered 4xx with the expected code, ` +
      `nothing stored in ${Object.keys(baseline ?? {}).length} tables; codes seen: ` +
      [...codes].map(([code, n]) => `${code}×${n}`).join(", "),
  );
  await stack?.close();
});

// ---------------------------------------------------------------------------------------------
// The cases

interface Case {
  name: string;
  code: ErrorCode;
  /** The request (built when run: some need the setup), or the bytes of a slow client. */
  request: () => RawRequest | { chunks: (string | Buffer)[]; intervalMs: number };
}

const hex = (n: number) => "a".repeat(n);
const D = hex(64);
const asA = () => bearer(a).authorization;
const deposit = (body: unknown, headers: [string, string][] = []): RawRequest => ({
  method: "POST",
  path: "/v1/deposits",
  headers: [["Authorization", asA()], ...headers],
  body,
});
/** A JSON body as exact text (for escapes JSON.stringify would not write). */
const depositText = (text: string | Buffer, contentType = "application/json"): RawRequest => ({
  method: "POST",
  path: "/v1/deposits",
  headers: [
    ["Authorization", asA()],
    ["Content-Type", contentType],
  ],
  body: text,
});
const bulk = (body: unknown, headers: [string, string][] = []): RawRequest => ({
  method: "POST",
  path: "/v1/deposits/bulk",
  headers: [["Authorization", asA()], ...headers],
  body,
});
const get = (path: string, as: () => string = asA): RawRequest => ({
  path,
  headers: [["Authorization", as()]],
});
const verify = (body: unknown): RawRequest => ({ method: "POST", path: "/v1/verify", body });
const nested = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;
const utf8Label = (bytes: number[]) =>
  Buffer.concat([Buffer.from(`{"digest":"${D}","label":"x`), Buffer.from(bytes), Buffer.from('"}')]);
const head = (lines: string[]) => `${lines.join("\r\n")}\r\n\r\n`;

const bodies: Case[] = [
  { name: "digest is a number", code: "VALIDATION_FAILED", request: () => deposit({ digest: 123 }) },
  { name: "digest missing", code: "VALIDATION_FAILED", request: () => deposit({ label: "x" }) },
  { name: "digest null", code: "VALIDATION_FAILED", request: () => deposit({ digest: null }) },
  {
    name: "digest of 63 hex characters",
    code: "DIGEST_INVALID",
    request: () => deposit({ digest: hex(63) }),
  },
  {
    name: "digest of 65 hex characters",
    code: "DIGEST_INVALID",
    request: () => deposit({ digest: hex(65) }),
  },
  {
    name: "digest of 64 non-hex characters",
    code: "DIGEST_INVALID",
    request: () => deposit({ digest: "g".repeat(64) }),
  },
  { name: "digest with 0x", code: "DIGEST_INVALID", request: () => deposit({ digest: `0x${D}` }) },
  { name: "digest with a space", code: "DIGEST_INVALID", request: () => deposit({ digest: ` ${hex(63)}` }) },
  {
    name: "digest of 129 characters",
    code: "VALIDATION_FAILED",
    request: () => deposit({ digest: hex(129) }),
  },
  {
    name: "digestAlg md5",
    code: "DIGEST_ALG_UNSUPPORTED",
    request: () => deposit({ digest: D, digestAlg: "md5" }),
  },
  {
    name: "digestAlg SHA256 (case)",
    code: "DIGEST_ALG_UNSUPPORTED",
    request: () => deposit({ digest: D, digestAlg: "SHA256" }),
  },
  {
    name: "digestAlg a number",
    code: "VALIDATION_FAILED",
    request: () => deposit({ digest: D, digestAlg: 256 }),
  },
  {
    name: "digestAlg of 33 characters",
    code: "VALIDATION_FAILED",
    request: () => deposit({ digest: D, digestAlg: "s".repeat(33) }),
  },
  {
    name: "label of 257 characters",
    code: "VALIDATION_FAILED",
    request: () => deposit({ digest: D, label: "l".repeat(257) }),
  },
  {
    name: "label with NUL",
    code: "VALIDATION_FAILED",
    request: () => deposit({ digest: D, label: "a\u0000b" }),
  },
  {
    name: "label an object",
    code: "VALIDATION_FAILED",
    request: () => deposit({ digest: D, label: { x: 1 } }),
  },
  {
    name: "label with a lone high surrogate",
    code: "UNICODE_INVALID",
    request: () => depositText(`{"digest":"${D}","label":"formula \\ud800"}`),
  },
  {
    name: "the identical retry of it (was 409 after U+FFFD was stored)",
    code: "UNICODE_INVALID",
    request: () => depositText(`{"digest":"${D}","label":"formula \\ud800"}`),
  },
  {
    name: "label with a lone low surrogate",
    code: "UNICODE_INVALID",
    request: () => depositText(`{"digest":"${D}","label":"\\udc00"}`),
  },
  {
    name: "label with a reversed surrogate pair",
    code: "UNICODE_INVALID",
    request: () => depositText(`{"digest":"${D}","label":"\\udc00\\ud800"}`),
  },
  {
    name: "a key with a lone surrogate",
    code: "UNICODE_INVALID",
    request: () => depositText(`{"digest":"${D}","\\ud800":"x"}`),
  },
  {
    name: "label with a byte that is not UTF-8",
    code: "UNICODE_INVALID",
    request: () => depositText(utf8Label([0xff])),
  },
  {
    name: "label with an overlong UTF-8 form",
    code: "UNICODE_INVALID",
    request: () => depositText(utf8Label([0xc0, 0xaf])),
  },
  {
    name: "label with a surrogate encoded as UTF-8 (CESU-8)",
    code: "UNICODE_INVALID",
    request: () => depositText(utf8Label([0xed, 0xa0, 0x80])),
  },
  {
    name: "an unknown field",
    code: "VALIDATION_FAILED",
    request: () => deposit({ digest: D, colour: "red" }),
  },
  { name: "prev not a UUID", code: "PREV_NOT_FOUND", request: () => deposit({ digest: D, prev: "123" }) },
  {
    name: "prev another tenant's deposit",
    code: "PREV_NOT_FOUND",
    request: () => deposit({ digest: D, prev: setup.bDeposit }),
  },
  { name: "body an array", code: "VALIDATION_FAILED", request: () => deposit([{ digest: D }]) },
  { name: "body null", code: "VALIDATION_FAILED", request: () => depositText("null") },
  { name: "body a JSON string", code: "VALIDATION_FAILED", request: () => depositText(JSON.stringify(D)) },
  { name: "truncated JSON", code: "MALFORMED_JSON", request: () => depositText(`{"digest":"${D}"`) },
  { name: "trailing comma", code: "MALFORMED_JSON", request: () => depositText(`{"digest":"${D}",}`) },
  { name: "single quotes", code: "MALFORMED_JSON", request: () => depositText(`{'digest':'${D}'}`) },
  { name: "NaN", code: "MALFORMED_JSON", request: () => depositText(`{"digest":NaN}`) },
  { name: "empty JSON body", code: "MALFORMED_JSON", request: () => depositText("") },
  {
    name: "__proto__ key",
    code: "MALFORMED_JSON",
    request: () => depositText(`{"digest":"${D}","__proto__":{"admin":true}}`),
  },
  {
    name: "constructor.prototype key",
    code: "MALFORMED_JSON",
    request: () => depositText(`{"digest":"${D}","constructor":{"prototype":{"admin":true}}}`),
  },
  {
    name: "JSON 33 levels deep",
    code: "JSON_TOO_DEEP",
    request: () => depositText(`{"digest":"${D}","label":${nested(32)}}`),
  },
  { name: "JSON 100,000 levels deep", code: "JSON_TOO_DEEP", request: () => depositText(nested(100_000)) },
  {
    name: "a 1.1 MiB body",
    code: "PAYLOAD_TOO_LARGE",
    request: () => deposit({ digest: D, label: "x".repeat(1_150_000) }),
  },
  {
    name: "a Content-Length of 100 MB",
    code: "PAYLOAD_TOO_LARGE",
    request: () => ({ ...deposit({ digest: D }), contentLength: 100_000_000 }),
  },
  { name: "bulk: no items", code: "VALIDATION_FAILED", request: () => bulk({ items: [] }) },
  {
    name: `bulk: ${BULK_MAX + 1} items, BULK_MAX is ${BULK_MAX}`,
    code: "VALIDATION_FAILED",
    request: () => bulk({ items: Array.from({ length: BULK_MAX + 1 }, () => ({ digest: D })) }),
  },
  {
    name: "bulk: one bad digest after good ones (all or none)",
    code: "DIGEST_INVALID",
    request: () =>
      bulk({ items: [{ digest: D }, { digest: hex(64).replace(/a$/, "b") }, { digest: "nope" }] }),
  },
  {
    name: "bulk: one lone surrogate after good items",
    code: "UNICODE_INVALID",
    request: () => ({
      ...bulk(undefined),
      headers: [
        ["Authorization", asA()],
        ["Content-Type", "application/json"],
      ],
      body: `{"items":[{"digest":"${D}"},{"digest":"${D}","label":"\\ud83d"}]}`,
    }),
  },
  {
    name: "bulk: items not an array",
    code: "VALIDATION_FAILED",
    request: () => bulk({ items: { digest: D } }),
  },
  {
    name: "bulk: an item with an unknown field",
    code: "VALIDATION_FAILED",
    request: () => bulk({ items: [{ digest: D, size: 1 }] }),
  },
  {
    name: "verify: no certificate",
    code: "VALIDATION_FAILED",
    request: () => verify({}),
  },
  {
    name: "verify: a bad digest",
    code: "DIGEST_INVALID",
    request: () => verify({ certificate: {}, digest: "xyz" }),
  },
  {
    name: "verify: an unknown field",
    code: "VALIDATION_FAILED",
    request: () => verify({ certificate: {}, x: 1 }),
  },
  {
    name: "verify: a certificate 40 levels deep",
    code: "JSON_TOO_DEEP",
    request: () => ({
      ...verify(undefined),
      body: `{"certificate":${nested(40)}}`,
      headers: [["Content-Type", "application/json"]],
    }),
  },
  {
    name: "verify: a body over its 256 KiB",
    code: "PAYLOAD_TOO_LARGE",
    request: () => verify({ certificate: { pad: "p".repeat(300_000) } }),
  },
];

const contentTypes: Case[] = [
  {
    name: "text/plain",
    code: "UNSUPPORTED_MEDIA_TYPE",
    request: () => depositText(`{"digest":"${D}"}`, "text/plain"),
  },
  {
    name: "no Content-Type",
    code: "UNSUPPORTED_MEDIA_TYPE",
    request: () => ({ ...deposit({ digest: D }), omit: ["content-type"] }),
  },
  {
    name: "a form",
    code: "UNSUPPORTED_MEDIA_TYPE",
    request: () => depositText(`digest=${D}`, "application/x-www-form-urlencoded"),
  },
  {
    name: "multipart",
    code: "UNSUPPORTED_MEDIA_TYPE",
    request: () => depositText(`--b\r\n\r\n${D}\r\n--b--`, "multipart/form-data; boundary=b"),
  },
  {
    name: "JSON declared latin1",
    code: "UNSUPPORTED_MEDIA_TYPE",
    request: () => depositText(`{"digest":"${D}"}`, "application/json; charset=latin1"),
  },
  {
    name: "XML",
    code: "UNSUPPORTED_MEDIA_TYPE",
    request: () => depositText(`<digest>${D}</digest>`, "application/xml"),
  },
];

const headers: Case[] = [
  { name: "no Authorization", code: "UNAUTHENTICATED", request: () => ({ path: "/v1/deposits" }) },
  {
    name: "Basic credentials",
    code: "UNAUTHENTICATED",
    request: () => get("/v1/deposits", () => "Basic dXNlcjpwYXNz"),
  },
  {
    name: "an unknown key",
    code: "UNAUTHENTICATED",
    request: () => get("/v1/deposits", () => `Bearer tsd_${randomBytes(32).toString("base64url")}`),
  },
  {
    name: "Bearer without a key",
    code: "UNAUTHENTICATED",
    request: () => get("/v1/deposits", () => "Bearer "),
  },
  {
    name: "an 8 KiB key",
    code: "UNAUTHENTICATED",
    request: () => get("/v1/deposits", () => `Bearer ${"k".repeat(8192)}`),
  },
  {
    name: "Idempotency-Key empty",
    code: "VALIDATION_FAILED",
    request: () => deposit({ digest: D }, [["Idempotency-Key", ""]]),
  },
  {
    name: "Idempotency-Key of 201 characters",
    code: "VALIDATION_FAILED",
    request: () => deposit({ digest: D }, [["Idempotency-Key", "k".repeat(201)]]),
  },
  {
    name: "Idempotency-Key with a space",
    code: "VALIDATION_FAILED",
    request: () => deposit({ digest: D }, [["Idempotency-Key", "order 1"]]),
  },
  {
    name: "Idempotency-Key with a non-ASCII byte",
    code: "VALIDATION_FAILED",
    request: () => deposit({ digest: D }, [["Idempotency-Key", "ordre-\u00e9"]]),
  },
  {
    name: "Idempotency-Key reused with another digest",
    code: "IDEMPOTENCY_KEY_REUSED",
    request: () => deposit({ digest: D }, [["Idempotency-Key", "setup-key"]]),
  },
  {
    name: "Idempotency-Key reused on the bulk endpoint",
    code: "IDEMPOTENCY_KEY_REUSED",
    request: () => bulk({ items: [{ digest: setupDigest }] }, [["Idempotency-Key", "setup-key"]]),
  },
  {
    name: "two different Content-Lengths",
    code: "MALFORMED_REQUEST",
    request: () => ({ ...deposit(`{"digest":"${D}"}`), headers: [["Content-Length", "3"]] }),
  },
  {
    name: "Content-Length with Transfer-Encoding",
    code: "MALFORMED_REQUEST",
    request: () => ({
      ...deposit(undefined),
      headers: [["Transfer-Encoding", "chunked"]],
      contentLength: 5,
      body: "0\r\n\r\n",
    }),
  },
  {
    name: "Content-Length -1",
    code: "MALFORMED_REQUEST",
    request: () => ({ ...deposit({ digest: D }), contentLength: null, headers: [["Content-Length", "-1"]] }),
  },
  {
    name: "Content-Length abc",
    code: "MALFORMED_REQUEST",
    request: () => ({ ...deposit({ digest: D }), contentLength: null, headers: [["Content-Length", "abc"]] }),
  },
  {
    name: "a header name with a space",
    code: "MALFORMED_REQUEST",
    request: () => ({ path: "/healthz", headers: [["X Bad", "1"]] }),
  },
  {
    name: "a control character in a header value",
    code: "MALFORMED_REQUEST",
    request: () => ({ path: "/healthz", headers: [["X-Note", "a\u0001b"]] }),
  },
  {
    name: "a header flood: 3,000 headers",
    code: "HEADERS_TOO_LARGE",
    request: () => ({
      path: "/healthz",
      headers: Array.from({ length: 3000 }, (_, i) => [`X-F${i}`, "flood"]),
    }),
  },
  {
    name: "one 20 KiB header",
    code: "HEADERS_TOO_LARGE",
    request: () => ({ path: "/healthz", headers: [["X-Big", "b".repeat(20_480)]] }),
  },
  {
    name: "a 20 KiB URL",
    code: "HEADERS_TOO_LARGE",
    request: () => ({ path: `/v1/deposits?label=${"l".repeat(20_480)}` }),
  },
  { name: "no Host", code: "MALFORMED_REQUEST", request: () => ({ path: "/healthz", omit: ["host"] }) },
  {
    name: "Expect: something else",
    code: "EXPECTATION_FAILED",
    request: () => ({ path: "/healthz", headers: [["Expect", "tea"]] }),
  },
];

const queries: Case[] = [
  { name: "limit=0", code: "VALIDATION_FAILED", request: () => get("/v1/deposits?limit=0") },
  { name: "limit=1001", code: "VALIDATION_FAILED", request: () => get("/v1/deposits?limit=1001") },
  { name: "limit=abc", code: "VALIDATION_FAILED", request: () => get("/v1/deposits?limit=abc") },
  { name: "limit=-1", code: "VALIDATION_FAILED", request: () => get("/v1/deposits?limit=-1") },
  { name: "limit=1.5", code: "VALIDATION_FAILED", request: () => get("/v1/deposits?limit=1.5") },
  { name: "limit=1e2", code: "VALIDATION_FAILED", request: () => get("/v1/deposits?limit=1e2") },
  { name: "limit=0x10", code: "VALIDATION_FAILED", request: () => get("/v1/deposits?limit=0x10") },
  { name: "limit twice", code: "VALIDATION_FAILED", request: () => get("/v1/deposits?limit=1&limit=2") },
  { name: "status=lost", code: "VALIDATION_FAILED", request: () => get("/v1/deposits?status=lost") },
  { name: "an unknown parameter", code: "VALIDATION_FAILED", request: () => get("/v1/deposits?owner=all") },
  { name: "digest=xyz", code: "DIGEST_INVALID", request: () => get("/v1/deposits?digest=xyz") },
  { name: "label empty", code: "VALIDATION_FAILED", request: () => get("/v1/deposits?label=") },
  { name: "cursor garbage", code: "CURSOR_INVALID", request: () => get("/v1/deposits?cursor=garbage") },
  {
    name: "cursor of 201 characters",
    code: "VALIDATION_FAILED",
    request: () => get(`/v1/deposits?cursor=${"c".repeat(201)}`),
  },
  {
    name: "another tenant's cursor",
    code: "CURSOR_INVALID",
    request: () => get(`/v1/deposits?cursor=${encodeURIComponent(setup.bCursor)}`),
  },
  {
    name: "a tampered cursor (its own tenant)",
    code: "CURSOR_INVALID",
    request: () => {
      const c = setup.bCursor;
      const flipped = `${c.slice(0, 10)}${c[10] === "A" ? "B" : "A"}${c.slice(11)}`;
      return get(`/v1/deposits?cursor=${encodeURIComponent(flipped)}`, () => bearer(b).authorization);
    },
  },
  {
    name: "feed: since garbage",
    code: "CURSOR_INVALID",
    request: () => get("/v1/certificates?since=garbage"),
  },
  {
    name: "feed: another tenant's since",
    code: "CURSOR_INVALID",
    request: () => get(`/v1/certificates?since=${encodeURIComponent(setup.bFeedCursor)}`),
  },
  { name: "feed: limit=0", code: "VALIDATION_FAILED", request: () => get("/v1/certificates?limit=0") },
  {
    name: "feed: limit=10001",
    code: "VALIDATION_FAILED",
    request: () => get("/v1/certificates?limit=10001"),
  },
];

const paths: Case[] = [
  {
    name: "a deposit id that is no UUID",
    code: "DEPOSIT_NOT_FOUND",
    request: () => get("/v1/deposits/not-a-uuid"),
  },
  { name: "an unknown UUID", code: "DEPOSIT_NOT_FOUND", request: () => get(`/v1/deposits/${randomUUID()}`) },
  {
    name: "another tenant's deposit",
    code: "DEPOSIT_NOT_FOUND",
    request: () => get(`/v1/deposits/${setup.bDeposit}`),
  },
  {
    name: "another tenant's certificate",
    code: "DEPOSIT_NOT_FOUND",
    request: () => get(`/v1/deposits/${setup.bDeposit}/certificate`),
  },
  {
    name: "another tenant's certificate PDF",
    code: "DEPOSIT_NOT_FOUND",
    request: () => get(`/v1/deposits/${setup.bDeposit}/certificate.pdf`),
  },
  {
    name: "an id of 65 characters",
    code: "VALIDATION_FAILED",
    request: () => get(`/v1/deposits/${"i".repeat(65)}`),
  },
  {
    name: "an id of 101 characters",
    code: "URI_TOO_LONG",
    request: () => get(`/v1/deposits/${"i".repeat(101)}`),
  },
  {
    name: "an id that does not decode (%zz)",
    code: "MALFORMED_REQUEST",
    request: () => get("/v1/deposits/%zz"),
  },
  { name: "an id with an encoded NUL", code: "DEPOSIT_NOT_FOUND", request: () => get("/v1/deposits/a%00b") },
  { name: "an unknown route", code: "ROUTE_NOT_FOUND", request: () => get("/v1/deposit") },
  {
    name: "DELETE a deposit",
    code: "ROUTE_NOT_FOUND",
    request: () => ({ ...get(`/v1/deposits/${setup.aDeposit}`), method: "DELETE" }),
  },
  {
    name: "PUT the deposits",
    code: "ROUTE_NOT_FOUND",
    request: () => ({ ...deposit({ digest: D }), method: "PUT" }),
  },
];

const broken: Case[] = [
  {
    name: "an unknown method token",
    code: "MALFORMED_REQUEST",
    request: () => ({ chunks: ["F@O / HTTP/1.1\r\nHost: x\r\n\r\n"], intervalMs: 0 }),
  },
  {
    name: "an unknown HTTP version",
    code: "MALFORMED_REQUEST",
    request: () => ({ chunks: ["GET / HTTP/9.9\r\nHost: x\r\n\r\n"], intervalMs: 0 }),
  },
  {
    name: "a space in the path",
    code: "MALFORMED_REQUEST",
    request: () => ({ chunks: ["GET /a b HTTP/1.1\r\nHost: x\r\n\r\n"], intervalMs: 0 }),
  },
  {
    name: "a lower-case version",
    code: "MALFORMED_REQUEST",
    request: () => ({ chunks: ["GET / http/1.1\r\nHost: x\r\n\r\n"], intervalMs: 0 }),
  },
  {
    name: "binary bytes",
    code: "MALFORMED_REQUEST",
    request: () => ({ chunks: [randomBytes(64)], intervalMs: 0 }),
  },
  {
    name: "an HTTP/2 preface",
    code: "MALFORMED_REQUEST",
    request: () => ({ chunks: ["PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"], intervalMs: 0 }),
  },
  {
    name: "a chunk size that is not hex",
    code: "MALFORMED_REQUEST",
    request: () => ({
      chunks: [
        head([
          "POST /v1/deposits HTTP/1.1",
          "Host: x",
          `Authorization: ${asA()}`,
          "Content-Type: application/json",
          "Transfer-Encoding: chunked",
        ]) + "zz\r\n{}\r\n0\r\n\r\n",
      ],
      intervalMs: 0,
    }),
  },
];

const slow: Case[] = [
  {
    name: "slowloris: a header line every 300 ms",
    code: "REQUEST_TIMEOUT",
    request: () => ({
      chunks: [
        "GET /v1/deposits HTTP/1.1\r\n",
        ...Array.from({ length: 60 }, (_, i) => `X-Slow-${i}: 1\r\n`),
      ],
      intervalMs: 300,
    }),
  },
  {
    name: "a body at 1 byte/s",
    code: "REQUEST_TIMEOUT",
    request: () => {
      const body = JSON.stringify({ digest: D });
      return {
        chunks: [
          head([
            "POST /v1/deposits HTTP/1.1",
            "Host: x",
            `Authorization: ${asA()}`,
            "Content-Type: application/json",
            `Content-Length: ${body.length}`,
          ]),
          ...body.split(""),
        ],
        intervalMs: 1000,
      };
    },
  },
  {
    name: "a body shorter than its Content-Length, then silence",
    code: "REQUEST_TIMEOUT",
    request: () => ({
      chunks: [
        head([
          "POST /v1/deposits HTTP/1.1",
          "Host: x",
          `Authorization: ${asA()}`,
          "Content-Type: application/json",
          "Content-Length: 500",
        ]) + `{"digest":"${D}"`,
      ],
      intervalMs: 0,
    }),
  },
  {
    name: "a chunked bulk body, a chunk a second, with an Idempotency-Key",
    code: "REQUEST_TIMEOUT",
    request: () => {
      const body = JSON.stringify({ items: [{ digest: D }, { digest: D }] });
      return {
        chunks: [
          head([
            "POST /v1/deposits/bulk HTTP/1.1",
            "Host: x",
            `Authorization: ${asA()}`,
            "Content-Type: application/json",
            "Idempotency-Key: slow-bulk",
            "Transfer-Encoding: chunked",
          ]),
          ...(body.match(/.{1,4}/g) ?? []).map((c) => `${c.length.toString(16)}\r\n${c}\r\n`),
          "0\r\n\r\n",
        ],
        intervalMs: 1000,
      };
    },
  },
  {
    name: "headers never finished, nothing more sent",
    code: "REQUEST_TIMEOUT",
    request: () => ({ chunks: ["POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: appl"], intervalMs: 0 }),
  },
];

const groups: [string, Case[]][] = [
  ["bodies", bodies],
  ["content types", contentTypes],
  ["headers", headers],
  ["queries", queries],
  ["paths", paths],
  ["broken HTTP", broken],
  ["slow clients", slow],
];

test("at least 60 cases", () => {
  expect(groups.flatMap(([, cases]) => cases).length).toBeGreaterThanOrEqual(60);
});

describe.each(groups)("%s", (_group, cases) => {
  test.each(cases.map((c) => [c.name, c] as const))("%s", async (name, c) => {
    const request = c.request();
    const res: RawResponse | null =
      "chunks" in request
        ? await exchange(port, request.chunks, { intervalMs: request.intervalMs })
        : await send(port, request);
    expect(res).not.toBeNull();
    const { status, headers: h, body } = res as RawResponse;
    expect(h["content-type"]).toMatch(/^application\/json/);
    const parsed = JSON.parse(body) as { error?: { code?: string; message?: string } };
    expect({ status, code: parsed.error?.code }).toEqual({ status: ERRORS[c.code].status, code: c.code });
    expect(Object.keys(parsed)).toEqual(["error"]);
    expect(Object.keys(parsed.error ?? {}).sort()).toEqual(["code", "message"]);
    expect(body).not.toMatch(/\n\s+at |node_modules|\.ts:\d+/);
    expect(await rowCounts(stack.config.DATABASE_URL)).toEqual(baseline);
    results.push({ name, status, code: c.code });
  });
});

test("control: a good deposit after all that is stored, and counted", async () => {
  const res = await send(port, deposit({ digest: D }, [["Idempotency-Key", "after-the-suite"]]));
  expect(res?.status).toBe(202);
  const after = await rowCounts(stack.config.DATABASE_URL);
  expect(after.deposits).toBe(baseline.deposits! + 1);
  expect(after).not.toEqual(baseline);
});

test("control: the bytes sent are what the cases say", () => {
  const bytes = requestBytes({
    method: "POST",
    path: "/x",
    body: { a: 1 },
    headers: [["X-A", "1"]],
  }).toString();
  expect(bytes).toBe(
    "POST /x HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nX-A: 1\r\nContent-Length: 7\r\n\r\n" +
      '{"a":1}',
  );
});
