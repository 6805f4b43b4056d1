import hre from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { type HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import {
  type BaseContract,
  type BigNumberish,
  type ContractRunner,
  type ContractTransactionReceipt,
  type ContractTransactionResponse,
  type Interface,
  ZeroAddress,
  ZeroHash,
  id,
  isHexString,
} from "ethers";

// protocol.md section 6: the registry surface, every path of it, each test on a fresh deployment.

type Tx = Promise<ContractTransactionResponse>;

/** The registry as these tests call it (the project has no TypeChain). */
interface Registry extends BaseContract {
  connect(runner: ContractRunner): Registry;
  ANCHORER_ROLE(): Promise<string>;
  DEFAULT_ADMIN_ROLE(): Promise<string>;
  anchor(root: string, treeSize: BigNumberish, batch: BigNumberish): Tx;
  anchorOf(root: string): Promise<[bigint, bigint, bigint, bigint]>;
  addCertifier(certifier: string): Tx;
  retireCertifier(certifier: string): Tx;
  certifier(certifier: string): Promise<[bigint, bigint]>;
  certifiers(): Promise<string[]>;
  pause(): Tx;
  unpause(): Tx;
  paused(): Promise<boolean>;
  hasRole(role: string, account: string): Promise<boolean>;
  getRoleAdmin(role: string): Promise<string>;
  grantRole(role: string, account: string): Tx;
  revokeRole(role: string, account: string): Tx;
  defaultAdmin(): Promise<string>;
  defaultAdminDelay(): Promise<bigint>;
  pendingDefaultAdmin(): Promise<[string, bigint]>;
  beginDefaultAdminTransfer(newAdmin: string): Tx;
  acceptDefaultAdminTransfer(): Tx;
  supportsInterface(interfaceId: string): Promise<boolean>;
}

/** The registry with a settable clock (contracts/test/EvidenceRegistryClockHarness.sol). */
interface ClockHarness extends Registry {
  setTimestamp(now: BigNumberish): Tx;
}

const ANCHORER_ROLE = id("ANCHORER_ROLE");
const DEFAULT_ADMIN_ROLE = ZeroHash;
const ADMIN_DELAY = 3n * 24n * 60n * 60n;
const UINT64_MAX = 2n ** 64n - 1n;
const ROOT = id("batch 7 root");
const OTHER_ROOT = id("batch 8 root");

// Measured 51,701 gas for the first anchor of a fresh root (solc 0.8.30, 10,000 optimizer runs).
const ANCHOR_GAS_BOUND = 55_000n;

type Signer = HardhatEthersSigner;

async function deployRegistry() {
  const signers = await hre.ethers.getSigners();
  const [admin, anchorer, stranger, nextAdmin, certifierA, certifierB] = signers as [
    Signer,
    Signer,
    Signer,
    Signer,
    Signer,
    Signer,
  ];
  const factory = await hre.ethers.getContractFactory("EvidenceRegistry", admin);
  const registry = (await factory.deploy(ADMIN_DELAY, admin.address)) as unknown as Registry;
  await mined(registry.grantRole(ANCHORER_ROLE, anchorer.address));
  return { factory, registry, admin, anchorer, stranger, nextAdmin, certifierA, certifierB };
}

async function mined(tx: Tx): Promise<ContractTransactionReceipt> {
  return (await (await tx).wait()) as ContractTransactionReceipt;
}

async function blockTimestamp(receipt: ContractTransactionReceipt): Promise<bigint> {
  return BigInt((await receipt.getBlock()).timestamp);
}

/** Every event `contract` emitted in the transaction, decoded. */
async function eventsOf(
  receipt: ContractTransactionReceipt,
  contract: BaseContract,
): Promise<{ name: string; args: unknown[] }[]> {
  const address = await contract.getAddress();
  return receipt.logs
    .filter((log) => log.address === address)
    .map((log) => {
      const event = contract.interface.parseLog(log);
      return { name: event?.name ?? "unknown", args: event?.args.toArray() ?? [] };
    });
}

/** Hardhat's in-process network reports a revert as an error whose `data` is the revert data. */
async function revertDataOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    const data = (error as { data?: unknown } | null | undefined)?.data;
    if (typeof data === "string" && isHexString(data)) return data;
    throw error;
  }
  throw new Error("expected a revert, but the call succeeded");
}

async function expectRevert(
  promise: Promise<unknown>,
  contract: { interface: Interface },
  name: string,
  args: unknown[] = [],
): Promise<void> {
  const error = contract.interface.parseError(await revertDataOf(promise));
  expect(error?.name).toBe(name);
  expect(error?.args.toArray()).toEqual(args);
}

describe("EvidenceRegistry", () => {
  describe("deployment", () => {
    test("makes the given account the default admin, with the given transfer delay", async () => {
      const { registry, admin } = await loadFixture(deployRegistry);
      expect(await registry.defaultAdmin()).toBe(admin.address);
      expect(await registry.hasRole(DEFAULT_ADMIN_ROLE, admin.address)).toBe(true);
      expect(await registry.DEFAULT_ADMIN_ROLE()).toBe(DEFAULT_ADMIN_ROLE);
      expect(await registry.defaultAdminDelay()).toBe(ADMIN_DELAY);
      expect(await registry.pendingDefaultAdmin()).toEqual([ZeroAddress, 0n]);
      expect(await registry.paused()).toBe(false);
      expect(await registry.certifiers()).toEqual([]);
    });

    test("gives the admin no anchoring power: anchoring is a separate role the admin grants", async () => {
      const { registry, admin } = await loadFixture(deployRegistry);
      expect(await registry.hasRole(ANCHORER_ROLE, admin.address)).toBe(false);
      expect(await registry.getRoleAdmin(ANCHORER_ROLE)).toBe(DEFAULT_ADMIN_ROLE);
    });

    test("ANCHORER_ROLE is keccak256('ANCHORER_ROLE')", async () => {
      const { registry } = await loadFixture(deployRegistry);
      expect(await registry.ANCHORER_ROLE()).toBe(ANCHORER_ROLE);
    });

    test("rejects a zero admin", async () => {
      const { factory } = await loadFixture(deployRegistry);
      await expectRevert(
        factory.deploy(ADMIN_DELAY, ZeroAddress),
        factory,
        "AccessControlInvalidDefaultAdmin",
        [ZeroAddress],
      );
    });

    test("supports ERC-165, IAccessControl and IAccessControlDefaultAdminRules, nothing else", async () => {
      const { registry } = await loadFixture(deployRegistry);
      expect(await registry.supportsInterface("0x01ffc9a7")).toBe(true); // IERC165
      expect(await registry.supportsInterface("0x7965db0b")).toBe(true); // IAccessControl
      expect(await registry.supportsInterface("0x31498786")).toBe(true); // IAccessControlDefaultAdminRules
      expect(await registry.supportsInterface("0xffffffff")).toBe(false); // ERC-165's invalid id
    });
  });

  describe("anchor", () => {
    test("stores the record at the block's timestamp and number and emits RootAnchored", async () => {
      const { registry, anchorer } = await loadFixture(deployRegistry);
      const receipt = await mined(registry.connect(anchorer).anchor(ROOT, 42, 7));
      const timestamp = await blockTimestamp(receipt);
      expect(await registry.anchorOf(ROOT)).toEqual([timestamp, BigInt(receipt.blockNumber), 42n, 7n]);
      expect(await eventsOf(receipt, registry)).toEqual([
        { name: "RootAnchored", args: [ROOT, 7n, 42n, timestamp] },
      ]);
    });

    test("keeps each root's record apart and stores the largest tree size and batch intact", async () => {
      const { registry, anchorer } = await loadFixture(deployRegistry);
      const first = await mined(registry.connect(anchorer).anchor(ROOT, UINT64_MAX, UINT64_MAX));
      await time.increase(60);
      const second = await mined(registry.connect(anchorer).anchor(OTHER_ROOT, 1, 0));
      expect(await registry.anchorOf(ROOT)).toEqual([
        await blockTimestamp(first),
        BigInt(first.blockNumber),
        UINT64_MAX,
        UINT64_MAX,
      ]);
      expect(await registry.anchorOf(OTHER_ROOT)).toEqual([
        await blockTimestamp(second),
        BigInt(second.blockNumber),
        1n,
        0n,
      ]);
    });

    test(`costs less than ${ANCHOR_GAS_BOUND} gas for a fresh root`, async () => {
      const { registry, anchorer } = await loadFixture(deployRegistry);
      const receipt = await mined(registry.connect(anchorer).anchor(ROOT, 1_000_000, 123_456));
      expect(receipt.gasUsed).toBeLessThan(ANCHOR_GAS_BOUND);
      process.stdout.write(`gas report: EvidenceRegistry.anchor (fresh root) = ${receipt.gasUsed}\n`);
    });

    test("reports all zero for an unknown root", async () => {
      const { registry } = await loadFixture(deployRegistry);
      expect(await registry.anchorOf(ROOT)).toEqual([0n, 0n, 0n, 0n]);
    });

    test("is refused to any account without ANCHORER_ROLE, the admin included", async () => {
      const { registry, admin, stranger } = await loadFixture(deployRegistry);
      for (const account of [stranger, admin]) {
        await expectRevert(
          registry.connect(account).anchor(ROOT, 1, 1),
          registry,
          "AccessControlUnauthorizedAccount",
          [account.address, ANCHORER_ROLE],
        );
      }
    });

    test("rejects a zero root", async () => {
      const { registry, anchorer } = await loadFixture(deployRegistry);
      await expectRevert(registry.connect(anchorer).anchor(ZeroHash, 1, 1), registry, "ZeroRoot");
    });

    test("rejects a zero tree size", async () => {
      const { registry, anchorer } = await loadFixture(deployRegistry);
      await expectRevert(registry.connect(anchorer).anchor(ROOT, 0, 1), registry, "ZeroTreeSize");
    });

    test("anchors a root once: a second anchor, even with another size or batch, reverts", async () => {
      const { registry, anchorer } = await loadFixture(deployRegistry);
      await mined(registry.connect(anchorer).anchor(ROOT, 42, 7));
      const record = await registry.anchorOf(ROOT);
      await expectRevert(registry.connect(anchorer).anchor(ROOT, 42, 7), registry, "RootAlreadyAnchored", [
        ROOT,
      ]);
      await expectRevert(registry.connect(anchorer).anchor(ROOT, 43, 8), registry, "RootAlreadyAnchored", [
        ROOT,
      ]);
      expect(await registry.anchorOf(ROOT)).toEqual(record);
    });

    test("reverts with EnforcedPause while paused and works again after unpause", async () => {
      const { registry, anchorer } = await loadFixture(deployRegistry);
      await mined(registry.pause());
      await expectRevert(registry.connect(anchorer).anchor(ROOT, 1, 1), registry, "EnforcedPause");
      await mined(registry.unpause());
      await mined(registry.connect(anchorer).anchor(ROOT, 1, 1));
      expect((await registry.anchorOf(ROOT))[2]).toBe(1n);
    });
  });

  describe("pause", () => {
    test("pause and unpause by the admin flip paused() and emit Paused and Unpaused", async () => {
      const { registry, admin } = await loadFixture(deployRegistry);
      const paused = await mined(registry.pause());
      expect(await registry.paused()).toBe(true);
      expect(await eventsOf(paused, registry)).toEqual([{ name: "Paused", args: [admin.address] }]);
      const unpaused = await mined(registry.unpause());
      expect(await registry.paused()).toBe(false);
      expect(await eventsOf(unpaused, registry)).toEqual([{ name: "Unpaused", args: [admin.address] }]);
    });

    test("pause and unpause are refused to any account but the admin, the anchorer included", async () => {
      const { registry, anchorer, stranger } = await loadFixture(deployRegistry);
      for (const account of [anchorer, stranger]) {
        await expectRevert(registry.connect(account).pause(), registry, "AccessControlUnauthorizedAccount", [
          account.address,
          DEFAULT_ADMIN_ROLE,
        ]);
      }
      await mined(registry.pause());
      for (const account of [anchorer, stranger]) {
        await expectRevert(
          registry.connect(account).unpause(),
          registry,
          "AccessControlUnauthorizedAccount",
          [account.address, DEFAULT_ADMIN_ROLE],
        );
      }
    });

    test("unpause without a pause reverts with ExpectedPause", async () => {
      const { registry } = await loadFixture(deployRegistry);
      await expectRevert(registry.unpause(), registry, "ExpectedPause");
    });

    test("pausing twice reverts with EnforcedPause", async () => {
      const { registry } = await loadFixture(deployRegistry);
      await mined(registry.pause());
      await expectRevert(registry.pause(), registry, "EnforcedPause");
    });

    test("stops anchoring only: certifier management and reads go on", async () => {
      const { registry, anchorer, certifierA } = await loadFixture(deployRegistry);
      await mined(registry.connect(anchorer).anchor(ROOT, 3, 1));
      await mined(registry.pause());
      await mined(registry.addCertifier(certifierA.address));
      await mined(registry.retireCertifier(certifierA.address));
      const [since, until] = await registry.certifier(certifierA.address);
      expect(since).toBeGreaterThan(0n);
      expect(until).toBeGreaterThan(since);
      expect((await registry.anchorOf(ROOT))[2]).toBe(3n);
    });
  });

  describe("certifiers", () => {
    test("addCertifier starts an open period at the block's timestamp and emits CertifierAdded", async () => {
      const { registry, certifierA } = await loadFixture(deployRegistry);
      const receipt = await mined(registry.addCertifier(certifierA.address));
      const since = await blockTimestamp(receipt);
      expect(await registry.certifier(certifierA.address)).toEqual([since, 0n]);
      expect(await registry.certifiers()).toEqual([certifierA.address]);
      expect(await eventsOf(receipt, registry)).toEqual([
        { name: "CertifierAdded", args: [certifierA.address, since] },
      ]);
    });

    test("certifiers() lists every key ever registered, retired ones included, in registration order", async () => {
      const { registry, certifierA, certifierB } = await loadFixture(deployRegistry);
      await mined(registry.addCertifier(certifierB.address));
      await mined(registry.addCertifier(certifierA.address));
      await mined(registry.retireCertifier(certifierB.address));
      expect(await registry.certifiers()).toEqual([certifierB.address, certifierA.address]);
    });

    test("retireCertifier closes the period at the block's timestamp and emits CertifierRetired", async () => {
      const { registry, certifierA } = await loadFixture(deployRegistry);
      const since = await blockTimestamp(await mined(registry.addCertifier(certifierA.address)));
      await time.increase(3600);
      const receipt = await mined(registry.retireCertifier(certifierA.address));
      const until = await blockTimestamp(receipt);
      expect(until).toBeGreaterThan(since);
      expect(await registry.certifier(certifierA.address)).toEqual([since, until]);
      expect(await eventsOf(receipt, registry)).toEqual([
        { name: "CertifierRetired", args: [certifierA.address, until] },
      ]);
    });

    test("reports (0, 0) for a key never registered", async () => {
      const { registry, certifierA } = await loadFixture(deployRegistry);
      expect(await registry.certifier(certifierA.address)).toEqual([0n, 0n]);
    });

    test("rejects the zero address", async () => {
      const { registry } = await loadFixture(deployRegistry);
      await expectRevert(registry.addCertifier(ZeroAddress), registry, "ZeroCertifier");
    });

    test("never registers a key twice, active or retired, so its history stays as written", async () => {
      const { registry, certifierA } = await loadFixture(deployRegistry);
      await mined(registry.addCertifier(certifierA.address));
      await expectRevert(registry.addCertifier(certifierA.address), registry, "CertifierAlreadyRegistered", [
        certifierA.address,
      ]);
      await mined(registry.retireCertifier(certifierA.address));
      const period = await registry.certifier(certifierA.address);
      await expectRevert(registry.addCertifier(certifierA.address), registry, "CertifierAlreadyRegistered", [
        certifierA.address,
      ]);
      expect(await registry.certifier(certifierA.address)).toEqual(period);
      expect(await registry.certifiers()).toEqual([certifierA.address]);
    });

    test("retiring a key never registered, or already retired, reverts with CertifierNotActive", async () => {
      const { registry, certifierA, certifierB } = await loadFixture(deployRegistry);
      await expectRevert(registry.retireCertifier(certifierB.address), registry, "CertifierNotActive", [
        certifierB.address,
      ]);
      await mined(registry.addCertifier(certifierA.address));
      await mined(registry.retireCertifier(certifierA.address));
      const period = await registry.certifier(certifierA.address);
      await time.increase(60);
      await expectRevert(registry.retireCertifier(certifierA.address), registry, "CertifierNotActive", [
        certifierA.address,
      ]);
      expect(await registry.certifier(certifierA.address)).toEqual(period);
    });

    test("adding and retiring are refused to any account but the admin, the anchorer included", async () => {
      const { registry, anchorer, stranger, certifierA, certifierB } = await loadFixture(deployRegistry);
      await mined(registry.addCertifier(certifierA.address));
      for (const account of [anchorer, stranger]) {
        await expectRevert(
          registry.connect(account).addCertifier(certifierB.address),
          registry,
          "AccessControlUnauthorizedAccount",
          [account.address, DEFAULT_ADMIN_ROLE],
        );
        await expectRevert(
          registry.connect(account).retireCertifier(certifierA.address),
          registry,
          "AccessControlUnauthorizedAccount",
          [account.address, DEFAULT_ADMIN_ROLE],
        );
      }
    });
  });

  describe("roles", () => {
    test("the admin grants and revokes ANCHORER_ROLE, and only holders may anchor", async () => {
      const { registry, admin, stranger } = await loadFixture(deployRegistry);
      const granted = await mined(registry.grantRole(ANCHORER_ROLE, stranger.address));
      expect(await eventsOf(granted, registry)).toEqual([
        { name: "RoleGranted", args: [ANCHORER_ROLE, stranger.address, admin.address] },
      ]);
      await mined(registry.connect(stranger).anchor(ROOT, 1, 1));
      await mined(registry.revokeRole(ANCHORER_ROLE, stranger.address));
      expect(await registry.hasRole(ANCHORER_ROLE, stranger.address)).toBe(false);
      await expectRevert(
        registry.connect(stranger).anchor(OTHER_ROOT, 1, 1),
        registry,
        "AccessControlUnauthorizedAccount",
        [stranger.address, ANCHORER_ROLE],
      );
    });

    test("only the admin grants ANCHORER_ROLE", async () => {
      const { registry, anchorer, stranger } = await loadFixture(deployRegistry);
      await expectRevert(
        registry.connect(anchorer).grantRole(ANCHORER_ROLE, stranger.address),
        registry,
        "AccessControlUnauthorizedAccount",
        [anchorer.address, DEFAULT_ADMIN_ROLE],
      );
    });

    test("DEFAULT_ADMIN_ROLE cannot be granted or revoked directly", async () => {
      const { registry, admin, nextAdmin } = await loadFixture(deployRegistry);
      await expectRevert(
        registry.grantRole(DEFAULT_ADMIN_ROLE, nextAdmin.address),
        registry,
        "AccessControlEnforcedDefaultAdminRules",
      );
      await expectRevert(
        registry.revokeRole(DEFAULT_ADMIN_ROLE, admin.address),
        registry,
        "AccessControlEnforcedDefaultAdminRules",
      );
    });
  });

  describe("admin transfer", () => {
    test("completes after the delay; the old admin then loses every admin power", async () => {
      const { registry, admin, nextAdmin, certifierA } = await loadFixture(deployRegistry);
      const begun = await mined(registry.beginDefaultAdminTransfer(nextAdmin.address));
      const schedule = (await blockTimestamp(begun)) + ADMIN_DELAY;
      expect(await registry.pendingDefaultAdmin()).toEqual([nextAdmin.address, schedule]);

      await time.increase(ADMIN_DELAY);
      await mined(registry.connect(nextAdmin).acceptDefaultAdminTransfer());

      expect(await registry.defaultAdmin()).toBe(nextAdmin.address);
      expect(await registry.hasRole(DEFAULT_ADMIN_ROLE, admin.address)).toBe(false);
      await expectRevert(registry.pause(), registry, "AccessControlUnauthorizedAccount", [
        admin.address,
        DEFAULT_ADMIN_ROLE,
      ]);
      await expectRevert(
        registry.addCertifier(certifierA.address),
        registry,
        "AccessControlUnauthorizedAccount",
        [admin.address, DEFAULT_ADMIN_ROLE],
      );
      await mined(registry.connect(nextAdmin).addCertifier(certifierA.address));
      expect((await registry.certifier(certifierA.address))[0]).toBeGreaterThan(0n);
    });

    test("accepting before the delay has passed reverts, up to and including the scheduled second", async () => {
      const { registry, admin, nextAdmin } = await loadFixture(deployRegistry);
      await mined(registry.beginDefaultAdminTransfer(nextAdmin.address));
      const [, schedule] = await registry.pendingDefaultAdmin();
      await expectRevert(
        registry.connect(nextAdmin).acceptDefaultAdminTransfer(),
        registry,
        "AccessControlEnforcedDefaultAdminDelay",
        [schedule],
      );
      await time.setNextBlockTimestamp(schedule);
      await expectRevert(
        registry.connect(nextAdmin).acceptDefaultAdminTransfer(),
        registry,
        "AccessControlEnforcedDefaultAdminDelay",
        [schedule],
      );
      expect(await registry.defaultAdmin()).toBe(admin.address);
      await mined(registry.connect(nextAdmin).acceptDefaultAdminTransfer());
      expect(await registry.defaultAdmin()).toBe(nextAdmin.address);
    });

    test("only the pending admin can accept", async () => {
      const { registry, nextAdmin, stranger } = await loadFixture(deployRegistry);
      await mined(registry.beginDefaultAdminTransfer(nextAdmin.address));
      await time.increase(ADMIN_DELAY);
      await expectRevert(
        registry.connect(stranger).acceptDefaultAdminTransfer(),
        registry,
        "AccessControlInvalidDefaultAdmin",
        [stranger.address],
      );
    });
  });

  describe("clock", () => {
    const T0 = 1_000_000_000n;
    const T1 = 1_000_086_400n;

    async function deployClockHarness() {
      const [admin, anchorer, certifierA] = (await hre.ethers.getSigners()) as [Signer, Signer, Signer];
      const factory = await hre.ethers.getContractFactory("EvidenceRegistryClockHarness", admin);
      const registry = (await factory.deploy(ADMIN_DELAY, admin.address, T0)) as unknown as ClockHarness;
      await mined(registry.grantRole(ANCHORER_ROLE, anchorer.address));
      return { registry, anchorer, certifierA };
    }

    test("every stored and emitted time comes from the overridable _timestamp(), not block.timestamp", async () => {
      const { registry, anchorer, certifierA } = await loadFixture(deployClockHarness);
      const anchored = await mined(registry.connect(anchorer).anchor(ROOT, 5, 2));
      expect(await registry.anchorOf(ROOT)).toEqual([T0, BigInt(anchored.blockNumber), 5n, 2n]);
      expect(await eventsOf(anchored, registry)).toEqual([
        { name: "RootAnchored", args: [ROOT, 2n, 5n, T0] },
      ]);

      const added = await mined(registry.addCertifier(certifierA.address));
      expect(await eventsOf(added, registry)).toEqual([
        { name: "CertifierAdded", args: [certifierA.address, T0] },
      ]);
      await mined(registry.setTimestamp(T1));
      const retired = await mined(registry.retireCertifier(certifierA.address));
      expect(await eventsOf(retired, registry)).toEqual([
        { name: "CertifierRetired", args: [certifierA.address, T1] },
      ]);
      expect(await registry.certifier(certifierA.address)).toEqual([T0, T1]);
    });

    test("a root stays anchored once even if the clock reads zero", async () => {
      const { registry, anchorer } = await loadFixture(deployClockHarness);
      await mined(registry.setTimestamp(0));
      await mined(registry.connect(anchorer).anchor(ROOT, 5, 2));
      await expectRevert(registry.connect(anchorer).anchor(ROOT, 6, 3), registry, "RootAlreadyAnchored", [
        ROOT,
      ]);
    });
  });
});
