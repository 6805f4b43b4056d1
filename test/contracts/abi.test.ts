import { Interface } from "ethers";
import { REGISTRY_ABI } from "../../services/chain/abi";
import { registryArtifact } from "../../services/chain/deployment";

// The service and the court's verifier use a hand-written, human-readable ABI (no build
// artefacts needed); every entry must exist in the compiled registry with the same types.
test("every entry of REGISTRY_ABI matches the compiled EvidenceRegistry", () => {
  const compiled = new Interface(registryArtifact().abi);
  const ours = new Interface(REGISTRY_ABI);
  const signatures = (i: Interface) => new Set(i.fragments.map((f) => f.format("minimal")));
  const theirs = signatures(compiled);
  const missing = [...signatures(ours)].filter((s) => !theirs.has(s));
  expect(missing).toEqual([]);
  expect(ours.fragments.length).toBe(REGISTRY_ABI.length);
});
