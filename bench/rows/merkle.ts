import { hash, randomBytes } from "node:crypto";
import { MerkleTree } from "../../services/core";
import type { BenchModule } from "../module";

// The tree of a batch: MerkleTree.fromLeafHashes over random leaves, against the floor of any
// RFC 9162 tree: n−1 node hashes of 65 bytes (0x01 || left || right) in a raw node:crypto loop
// (its fastest call for small inputs, the one-shot crypto.hash).

const NAME = "merkle: root of 1,000,000 leaves";

export const merkle: BenchModule = {
  rows: [
    {
      name: NAME,
      unit: "s",
      goal: { ratio: { of: "value/baseline", op: "<=", limit: 1.3 } },
    },
  ],
  async run(ctx) {
    const n = ctx.sizes.merkleLeaves;
    const all = randomBytes(n * 32);
    const leaves = Array.from({ length: n }, (_, i) => all.subarray(i * 32, (i + 1) * 32));

    const raw = () => {
      const start = process.hrtime.bigint();
      const input = Buffer.alloc(65);
      input[0] = 1;
      let sink = 0;
      for (let i = 0; i < n - 1; i++) {
        all.copy(input, 1, i * 32, i * 32 + 64);
        sink ^= hash("sha256", input, "buffer")[0] as number;
      }
      if (sink === 256) throw new Error("unreachable");
      return Number(process.hrtime.bigint() - start) / 1e9;
    };
    const tree = () => {
      const start = process.hrtime.bigint();
      const t = MerkleTree.fromLeafHashes(leaves);
      if (t.root.length !== 32) throw new Error("no root");
      return Number(process.hrtime.bigint() - start) / 1e9;
    };
    // Warm both up, then the best of three runs each, interleaved so that a slow spell of the
    // machine falls on both alike: other load only slows.
    raw();
    tree();
    const runs = { raw: [] as number[], tree: [] as number[] };
    for (let i = 0; i < 3; i++) {
      runs.raw.push(raw());
      runs.tree.push(tree());
    }
    const baseline = Math.min(...runs.raw);
    const value = Math.min(...runs.tree);
    return {
      [NAME]: {
        value,
        baseline,
        notes: [
          `best of 3 interleaved runs each after a warm-up`,
          ...ctx.sizeNote(`${n.toLocaleString("en-US")} leaves`),
        ],
      },
    };
  },
};
