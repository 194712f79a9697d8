/**
 * ActorRegistry: who may act on the ledger and how actors are shown. The registry is abstract, so it is tested
 * through ProvenanceLedger, its one concrete contract: every function's success path with its event arguments,
 * every refusal, and the two rule inputs the registry feeds the ledger (custody roles, the retail flag).
 */
import { expect } from "chai";
import { Kind } from "../../ledger-api/src/protocol/typed-data.ts";
import { KR, ZERO_HASH, deployLedger, ethers, networkHelpers, registerBatch, submit, values } from "./fixtures.ts";

const role = (name: string) => ethers.id(name);
const ROLES = [
  "REGULATOR_ROLE",
  "PRODUCER_ROLE",
  "IMPORTER_ROLE",
  "INSPECTOR_ROLE",
  "HANDLER_ROLE",
  "RELAYER_ROLE",
  "ANCHORER_ROLE",
] as const;
const COOPERATIVE = { name: "Jeju Hallabong Cooperative", gln: 8801234000017n, country: KR, retail: false };

async function fixture() {
  return networkHelpers.loadFixture(deployLedger);
}

describe("ActorRegistry", function () {
  describe("construction", function () {
    it("gives the constructor's admin DEFAULT_ADMIN_ROLE, announced by RoleGranted with the deployer as sender", async function () {
      const [deployer, authority] = await ethers.getSigners();
      const ledger = await ethers.getContractFactory("ProvenanceLedger").then((f) => f.connect(deployer!).deploy(authority!.address));
      await expect(ledger.deploymentTransaction())
        .to.emit(ledger, "RoleGranted")
        .withArgs(ZERO_HASH, authority!.address, deployer!.address);
      expect(await ledger.hasRole(ZERO_HASH, authority!.address)).to.equal(true);
      expect(await ledger.hasRole(ZERO_HASH, deployer!.address)).to.equal(false);
    });

    it("refuses a zero admin", async function () {
      const { ledger } = await fixture();
      const factory = await ethers.getContractFactory("ProvenanceLedger");
      await expect(factory.deploy(ethers.ZeroAddress)).to.be.revertedWithCustomError(ledger, "ZeroAdmin");
    });
  });

  describe("roles", function () {
    it("names every role by the keccak256 of its name, each administered by DEFAULT_ADMIN_ROLE (zero)", async function () {
      const { ledger } = await fixture();
      expect(await ledger.DEFAULT_ADMIN_ROLE()).to.equal(ZERO_HASH);
      for (const name of ROLES) {
        expect(await ledger.getFunction(name)()).to.equal(role(name));
        expect(await ledger.getRoleAdmin(role(name))).to.equal(ZERO_HASH);
      }
    });

    it("lets the authority grant a role, announced by RoleGranted; granting it again changes and announces nothing", async function () {
      const { ledger, admin, outsider } = await fixture();
      await expect(ledger.grantRole(role("HANDLER_ROLE"), outsider.address))
        .to.emit(ledger, "RoleGranted")
        .withArgs(role("HANDLER_ROLE"), outsider.address, admin.address);
      expect(await ledger.hasRole(role("HANDLER_ROLE"), outsider.address)).to.equal(true);
      await expect(ledger.grantRole(role("HANDLER_ROLE"), outsider.address)).not.to.emit(ledger, "RoleGranted");
    });

    it("lets the authority revoke a role, announced by RoleRevoked", async function () {
      const { ledger, admin, wholesaler } = await fixture();
      await expect(ledger.revokeRole(role("HANDLER_ROLE"), wholesaler.address))
        .to.emit(ledger, "RoleRevoked")
        .withArgs(role("HANDLER_ROLE"), wholesaler.address, admin.address);
      expect(await ledger.hasRole(role("HANDLER_ROLE"), wholesaler.address)).to.equal(false);
    });

    it("refuses a grant or a revocation by anyone but the authority, even a holder of the role", async function () {
      const { ledger, outsider, wholesaler } = await fixture();
      await expect(ledger.connect(outsider).grantRole(role("PRODUCER_ROLE"), outsider.address))
        .to.be.revertedWithCustomError(ledger, "AccessControlUnauthorizedAccount")
        .withArgs(outsider.address, ZERO_HASH);
      await expect(ledger.connect(wholesaler).grantRole(role("HANDLER_ROLE"), outsider.address))
        .to.be.revertedWithCustomError(ledger, "AccessControlUnauthorizedAccount")
        .withArgs(wholesaler.address, ZERO_HASH);
      await expect(ledger.connect(outsider).revokeRole(role("HANDLER_ROLE"), wholesaler.address))
        .to.be.revertedWithCustomError(ledger, "AccessControlUnauthorizedAccount")
        .withArgs(outsider.address, ZERO_HASH);
    });

    it("lets an account renounce its own role, and only its own", async function () {
      const { ledger, wholesaler, stall } = await fixture();
      await expect(ledger.connect(wholesaler).renounceRole(role("HANDLER_ROLE"), stall.address)).to.be.revertedWithCustomError(
        ledger,
        "AccessControlBadConfirmation",
      );
      await expect(ledger.connect(wholesaler).renounceRole(role("HANDLER_ROLE"), wholesaler.address))
        .to.emit(ledger, "RoleRevoked")
        .withArgs(role("HANDLER_ROLE"), wholesaler.address, wholesaler.address);
      expect(await ledger.hasRole(role("HANDLER_ROLE"), wholesaler.address)).to.equal(false);
    });

    it("reports the AccessControl and ERC-165 interfaces, and no made-up one", async function () {
      const { ledger } = await fixture();
      const iAccessControl = "0x7965db0b";
      const iErc165 = "0x01ffc9a7";
      expect(await ledger.supportsInterface(iAccessControl)).to.equal(true);
      expect(await ledger.supportsInterface(iErc165)).to.equal(true);
      expect(await ledger.supportsInterface("0xffffffff")).to.equal(false);
    });
  });

  describe("profiles", function () {
    it("lets the authority set a profile, announced by ProfileSet and readable by profileOf", async function () {
      const { ledger, producer } = await fixture();
      await expect(ledger.setProfile(producer.address, COOPERATIVE))
        .to.emit(ledger, "ProfileSet")
        .withArgs(producer.address, COOPERATIVE.name, COOPERATIVE.gln, COOPERATIVE.country, false);
      const p = await ledger.profileOf(producer.address);
      expect([p.name, p.gln, p.country, p.retail]).to.deep.equal([COOPERATIVE.name, COOPERATIVE.gln, KR, false]);
    });

    it("replaces a profile whole when it is set again", async function () {
      const { ledger, stall } = await fixture();
      const moved = { name: "Seogwipo Olle Market stall 3", gln: 0n, country: KR, retail: true };
      await expect(ledger.setProfile(stall.address, moved))
        .to.emit(ledger, "ProfileSet")
        .withArgs(stall.address, moved.name, 0n, KR, true);
      const p = await ledger.profileOf(stall.address);
      expect([p.name, p.gln, p.country, p.retail]).to.deep.equal([moved.name, 0n, KR, true]);
    });

    it("reads all fields zero for an account without a profile", async function () {
      const { ledger, outsider } = await fixture();
      const p = await ledger.profileOf(outsider.address);
      expect([p.name, p.gln, p.country, p.retail]).to.deep.equal(["", 0n, "0x0000", false]);
    });

    it("refuses a profile set by anyone but the authority, or for the zero address", async function () {
      const { ledger, outsider } = await fixture();
      await expect(ledger.connect(outsider).setProfile(outsider.address, COOPERATIVE))
        .to.be.revertedWithCustomError(ledger, "AccessControlUnauthorizedAccount")
        .withArgs(outsider.address, ZERO_HASH);
      await expect(ledger.setProfile(ethers.ZeroAddress, COOPERATIVE)).to.be.revertedWithCustomError(ledger, "ZeroAccount");
    });
  });

  describe("what the registry tells the ledger's rules", function () {
    it("lets an account hold custody only while it holds PRODUCER_ROLE, IMPORTER_ROLE or HANDLER_ROLE", async function () {
      const f = await fixture();
      const { batchId } = await registerBatch(f);
      await expect(submit(f, Kind.HandOffOffered, values.offered(batchId, f.inspector.address), f.producer))
        .to.be.revertedWithCustomError(f.ledger, "NotCustodyHolder")
        .withArgs(f.inspector.address);
      for (const custodyRole of ["PRODUCER_ROLE", "IMPORTER_ROLE", "HANDLER_ROLE"]) {
        await f.ledger.grantRole(role(custodyRole), f.outsider.address);
        await submit(f, Kind.HandOffOffered, values.offered(batchId, f.outsider.address), f.producer);
        await submit(f, Kind.HandOffCancelled, values.cancelled(batchId, f.outsider.address), f.producer);
        await f.ledger.revokeRole(role(custodyRole), f.outsider.address);
      }
    });

    it("stops future acts when a role is revoked, but leaves the batches an account holds with it", async function () {
      const f = await fixture();
      const { batchId } = await registerBatch(f);
      await f.ledger.revokeRole(role("PRODUCER_ROLE"), f.producer.address);
      await expect(submit(f, Kind.HandOffOffered, values.offered(batchId, f.wholesaler.address), f.producer))
        .to.be.revertedWithCustomError(f.ledger, "NotCustodyHolder")
        .withArgs(f.producer.address);
      expect((await f.ledger.getBatch(batchId)).custodian).to.equal(f.producer.address);
      await f.ledger.grantRole(role("HANDLER_ROLE"), f.producer.address);
      await submit(f, Kind.HandOffOffered, values.offered(batchId, f.wholesaler.address), f.producer);
    });

    it("keeps an uncleared import from an address flagged retail, from the moment the flag is set", async function () {
      const f = await fixture();
      const { batchId } = await registerBatch(f, { imported: true });
      await submit(f, Kind.HandOffOffered, values.offered(batchId, f.wholesaler.address), f.importer);
      await f.ledger.setProfile(f.wholesaler.address, { name: "Jeju Wholesale", gln: 0n, country: KR, retail: true });
      await expect(submit(f, Kind.HandOffAccepted, values.accepted(batchId, f.importer.address), f.wholesaler))
        .to.be.revertedWithCustomError(f.ledger, "RetailBeforeClearance")
        .withArgs(batchId, f.wholesaler.address);
      await f.ledger.setProfile(f.wholesaler.address, { name: "Jeju Wholesale", gln: 0n, country: KR, retail: false });
      await submit(f, Kind.HandOffAccepted, values.accepted(batchId, f.importer.address), f.wholesaler);
    });
  });
});
