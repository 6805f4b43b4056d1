import { Contract, Wallet, getBytes, hexlify, randomBytes } from "ethers";
import { REGISTRY_ABI } from "../../services/chain/abi";
import { openProvider, registryAt } from "../../services/chain/reader";
import { MerkleTree } from "../../services/core";
import type { BenchModule } from "../module";
import { startChain } from "../stack";

// Gas per deposit: anchoring the root of a 100,000-leaf batch costs one transaction; the
// baseline is one transaction per digest, on the same node (an anvil of this row's own, so
// nothing else's nonces or roots are involved).

const NAME = "gas per deposit at 100,000 leaves";

export const gas: BenchModule = {
  rows: [
    {
      name: NAME,
      unit: "gas",
      goal: { value: { op: "<=", limit: 1 }, ratio: { of: "baseline/value", op: ">=", limit: 10_000 } },
    },
  ],
  async run(ctx) {
    const leaves = ctx.sizes.gasLeaves;
    const chain = await startChain();
    try {
      const provider = await openProvider(chain.chain.rpcUrl, 100);
      try {
        const sender = Wallet.createRandom().connect(provider);
        await provider.send("anvil_setBalance", [sender.address, "0x56BC75E2D63100000"]);
        const admin = chain.keys.admin.connect(provider);
        const registry = registryAt(chain.deployment.registry, admin);
        const role = (await registry.getFunction("ANCHORER_ROLE")()) as string;
        await (await registry.getFunction("grantRole")(role, sender.address)).wait();
        const asSender = new Contract(chain.deployment.registry, REGISTRY_ABI, sender);

        const tree = MerkleTree.fromLeafHashes(
          Array.from({ length: leaves }, () => getBytes(randomBytes(32))),
        );
        const batchTx = await asSender.getFunction("anchor")(hexlify(tree.root), leaves, 1);
        const batchReceipt = await batchTx.wait();
        const digestTx = await asSender.getFunction("anchor")(hexlify(randomBytes(32)), 1, 2);
        const digestReceipt = await digestTx.wait();
        const batchGas = Number(batchReceipt.gasUsed);
        const perDigest = Number(digestReceipt.gasUsed);
        return {
          [NAME]: {
            value: batchGas / leaves,
            baseline: perDigest,
            notes: [
              `one anchor() of a ${leaves.toLocaleString("en-US")}-leaf root: ${batchGas.toLocaleString("en-US")} gas; one anchor() per digest: ${perDigest.toLocaleString("en-US")} gas (anvil)`,
            ],
          },
        };
      } finally {
        provider.destroy();
      }
    } finally {
      await chain.stop();
    }
  },
};
