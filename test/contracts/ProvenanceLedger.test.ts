import { expect } from "chai";
import { anyValue } from "@nomicfoundation/hardhat-ethers-chai-matchers/withArgs";
import {
  Kind,
  batchIdOf,
  eventHash,
  headOf,
  isValidGtin14,
  isValidLot,
  nextHead,
  structHash,
  typeString,
} from "../../ledger-api/src/protocol/typed-data.ts";
import {
  GTIN,
  GTIN_B,
  ZERO_HASH,
  children,
  deployLedger,
  ethers,
  freshLot,
  gtin,
  handOff,
  hashOf,
  networkHelpers,
  registerBatch,
  splitBatch,
  submit,
  values,
} from "./fixtures.ts";
import type { Ledger } from "./fixtures.ts";
import { shouldBehaveLikeLifecycleCall } from "./LifecycleCall.behavior.ts";

const Status = { None: 0n, Active: 1n, Split: 2n, Merged: 3n } as const;
const role = (name: string) => ethers.id(name);

async function fixture() {
  return networkHelpers.loadFixture(deployLedger);
}

describe("ProvenanceLedger", function () {
  describe("authentication of every lifecycle function", function () {
    shouldBehaveLikeLifecycleCall(Kind.Registered, async (f, over) => {
      const v = values.registered(over);
      return { actor: f.producer, values: v, batchId: batchIdOf(v.gtin, v.lot) };
    });
    shouldBehaveLikeLifecycleCall(Kind.PesticideApplied, async (f, over) => {
      const { batchId } = await registerBatch(f);
      return { actor: f.producer, values: values.pesticide(batchId, over), batchId };
    });
    shouldBehaveLikeLifecycleCall(Kind.Inspected, async (f, over) => {
      const { batchId } = await registerBatch(f);
      return { actor: f.inspector, values: values.inspected(batchId, over), batchId };
    });
    shouldBehaveLikeLifecycleCall(Kind.CustomsCleared, async (f, over) => {
      const { batchId } = await registerBatch(f, { imported: true });
      return { actor: f.importer, values: values.customs(batchId, over), batchId };
    });
    shouldBehaveLikeLifecycleCall(Kind.HandOffOffered, async (f, over) => {
      const { batchId } = await registerBatch(f);
      return { actor: f.producer, values: values.offered(batchId, f.wholesaler.address, over), batchId };
    });
    shouldBehaveLikeLifecycleCall(Kind.HandOffAccepted, async (f, over) => {
      const { batchId } = await registerBatch(f);
      await submit(f, Kind.HandOffOffered, values.offered(batchId, f.wholesaler.address), f.producer);
      return { actor: f.wholesaler, values: values.accepted(batchId, f.producer.address, over), batchId };
    });
    shouldBehaveLikeLifecycleCall(Kind.HandOffCancelled, async (f, over) => {
      const { batchId } = await registerBatch(f);
      await submit(f, Kind.HandOffOffered, values.offered(batchId, f.wholesaler.address), f.producer);
      return { actor: f.producer, values: values.cancelled(batchId, f.wholesaler.address, over), batchId };
    });
    shouldBehaveLikeLifecycleCall(Kind.Split, async (f, over) => {
      const { batchId } = await registerBatch(f);
      return { actor: f.producer, values: values.split(batchId, children(60n, 40n), over), batchId };
    });
    shouldBehaveLikeLifecycleCall(Kind.Merged, async (f, over) => {
      const a = await registerBatch(f);
      const b = await registerBatch(f);
      const v = values.merged([a.batchId, b.batchId], over);
      return { actor: f.producer, values: v, batchId: batchIdOf(v.gtin, v.lot) };
    });
    shouldBehaveLikeLifecycleCall(Kind.Recalled, async (f, over) => {
      const { batchId } = await registerBatch(f);
      return { actor: f.regulator, values: values.recalled(batchId, over), batchId };
    });
  });

  describe("EIP-712 domain and the TypeScript mirror", function () {
    it("uses the domain ProvenanceLedger / 1 bound to this chain and contract", async function () {
      const f = await fixture();
      expect(await f.ledger.domainSeparator()).to.equal(ethers.TypedDataEncoder.hashDomain(f.domain));
      const d = await f.ledger.eip712Domain();
      expect([d.name, d.version, d.chainId, d.verifyingContract]).to.deep.equal([
        "ProvenanceLedger",
        "1",
        f.chainId,
        await f.ledger.getAddress(),
      ]);
    });

    it("spells the Split type with its ChildLot dependency appended", function () {
      expect(typeString(Kind.Split)).to.equal(
        "Split(bytes32 batchId,ChildLot[] children,uint64 occurredAt,bytes32 docHash,uint256 nonce,uint256 deadline)ChildLot(string gtin,string lot,uint256 quantity)",
      );
    });

    it("computes an event hash as the EIP-712 digest of the domain separator and struct hash", async function () {
      const f = await fixture();
      const v = values.inspected(ZERO_HASH);
      const digest = ethers.keccak256(ethers.concat(["0x1901", await f.ledger.domainSeparator(), structHash(Kind.Inspected, v)]));
      expect(eventHash(f.domain, Kind.Inspected, v)).to.equal(digest);
    });

    it("derives batch ids from the GS1 Digital Link path, the same on chain and in TypeScript", async function () {
      const { ledger } = await fixture();
      const lot = "AB/12-%x";
      expect(batchIdOf(GTIN, lot)).to.equal(ethers.keccak256(ethers.toUtf8Bytes(`/01/${GTIN}/10/${lot}`)));
      expect(await ledger.batchIdOf(GTIN, lot)).to.equal(batchIdOf(GTIN, lot));
    });
  });

  describe("Registered", function () {
    it("registers a domestic batch held by its producer and emits its key fields", async function () {
      const f = await fixture();
      const v = values.registered();
      const id = batchIdOf(v.gtin, v.lot);
      const eh = hashOf(f, Kind.Registered, v);
      await expect(submit(f, Kind.Registered, v, f.producer))
        .to.emit(f.ledger, "Registered")
        .withArgs(id, f.producer.address, v.gtin, v.lot, v.quantity, v.unit, false, v.docHash, eh, headOf([eh]));
      const b = await f.ledger.getBatch(id);
      expect(b.registrant).to.equal(f.producer.address);
      expect(b.custodian).to.equal(f.producer.address);
      expect(b.status).to.equal(Status.Active);
      expect(b.quantity).to.equal(100n);
      expect(b.unit).to.equal("kg");
      expect([b.imported, b.customsCleared, b.recalled, b.ancestry, b.offeredTo]).to.deep.equal([false, false, false, 0n, ethers.ZeroAddress]);
      expect(b.head).to.equal(nextHead(ZERO_HASH, eh));
    });

    it("registers an imported batch only by an importer, and a domestic one only by a producer", async function () {
      const f = await fixture();
      await expect(submit(f, Kind.Registered, values.registered({ imported: true }), f.producer))
        .to.be.revertedWithCustomError(f.ledger, "AccessControlUnauthorizedAccount")
        .withArgs(f.producer.address, role("IMPORTER_ROLE"));
      await expect(submit(f, Kind.Registered, values.registered(), f.importer))
        .to.be.revertedWithCustomError(f.ledger, "AccessControlUnauthorizedAccount")
        .withArgs(f.importer.address, role("PRODUCER_ROLE"));
      const { batchId } = await registerBatch(f, { imported: true });
      expect((await f.ledger.getBatch(batchId)).imported).to.equal(true);
    });

    it("refuses a GTIN whose check digit is wrong, naming the expected digit", async function () {
      const f = await fixture();
      const good = gtin("0880123456789");
      const bad = good.slice(0, 13) + String((Number(good[13]) + 1) % 10);
      expect(isValidGtin14(bad)).to.equal(false);
      await expect(submit(f, Kind.Registered, values.registered({ gtin: bad }), f.producer))
        .to.be.revertedWithCustomError(f.ledger, "GtinCheckDigitMismatch")
        .withArgs(bad, Number(good[13]), Number(bad[13]));
    });

    it("checks the GS1 mod-10 check digit against known GTINs", async function () {
      const { ledger } = await fixture();
      for (const known of ["00012345600012", "10614141000019", "04006381333931", "09501101530003"]) {
        expect(isValidGtin14(known)).to.equal(true);
        await ledger.batchIdOf(known, "1");
      }
    });

    it("refuses a GTIN that is not exactly 14 ASCII digits", async function () {
      const f = await fixture();
      for (const g of ["0880123456789", "088012345678901", "08801234567x9", "0880123456789 "]) {
        await expect(submit(f, Kind.Registered, values.registered({ gtin: g }), f.producer))
          .to.be.revertedWithCustomError(f.ledger, "GtinMalformed")
          .withArgs(g);
      }
    });

    it("accepts every character of GS1 character set 82 in a lot", async function () {
      const f = await fixture();
      const set82 = `!"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz`;
      expect(set82).to.have.length(82);
      for (let i = 0; i < set82.length; i += 20) {
        const lot = set82.slice(i, i + 20);
        expect(isValidLot(lot)).to.equal(true);
        await submit(f, Kind.Registered, values.registered({ lot }), f.producer);
      }
    });

    it("refuses a lot character outside GS1 character set 82, naming its position", async function () {
      const f = await fixture();
      for (const [lot, pos] of [["A B", 1], ["#1", 0], ["x$", 1], ["a@", 1], ["[", 0], ["a~", 1], ["é", 0]] as const) {
        expect(isValidLot(lot)).to.equal(false);
        await expect(submit(f, Kind.Registered, values.registered({ lot }), f.producer))
          .to.be.revertedWithCustomError(f.ledger, "LotCharacterInvalid")
          .withArgs(lot, pos);
      }
    });

    it("refuses an empty lot or one longer than 20 characters", async function () {
      const f = await fixture();
      for (const lot of ["", "A".repeat(21)]) {
        await expect(submit(f, Kind.Registered, values.registered({ lot }), f.producer))
          .to.be.revertedWithCustomError(f.ledger, "LotLengthInvalid")
          .withArgs(lot, lot.length);
      }
      await submit(f, Kind.Registered, values.registered({ lot: "A".repeat(20) }), f.producer);
    });

    it("refuses a batch id that already exists", async function () {
      const f = await fixture();
      const { batchId, values: v } = await registerBatch(f);
      await expect(submit(f, Kind.Registered, values.registered({ lot: v.lot }), f.producer2))
        .to.be.revertedWithCustomError(f.ledger, "BatchExists")
        .withArgs(batchId);
    });

    it("refuses a zero quantity and an empty or over-long unit", async function () {
      const f = await fixture();
      await expect(submit(f, Kind.Registered, values.registered({ quantity: 0n }), f.producer)).to.be.revertedWithCustomError(
        f.ledger,
        "ZeroQuantity",
      );
      for (const unit of ["", "u".repeat(33)]) {
        await expect(submit(f, Kind.Registered, values.registered({ unit }), f.producer))
          .to.be.revertedWithCustomError(f.ledger, "UnitInvalid")
          .withArgs(unit);
      }
    });
  });

  describe("PesticideApplied", function () {
    it("records an application by the producer holding the batch", async function () {
      const f = await fixture();
      const { batchId, values: r } = await registerBatch(f);
      const v = values.pesticide(batchId);
      const eh = hashOf(f, Kind.PesticideApplied, v);
      const head = headOf([hashOf(f, Kind.Registered, r), eh]);
      await expect(submit(f, Kind.PesticideApplied, v, f.producer))
        .to.emit(f.ledger, "PesticideApplied")
        .withArgs(batchId, f.producer.address, v.casNumber, v.preHarvestIntervalDays, v.docHash, eh, head);
    });

    it("refuses an application by a producer who is not the custodian", async function () {
      const f = await fixture();
      const { batchId } = await registerBatch(f);
      await expect(submit(f, Kind.PesticideApplied, values.pesticide(batchId), f.producer2))
        .to.be.revertedWithCustomError(f.ledger, "NotCustodian")
        .withArgs(batchId, f.producer.address, f.producer2.address);
    });

    it("refuses an application by a custodian without PRODUCER_ROLE", async function () {
      const f = await fixture();
      const { batchId } = await registerBatch(f);
      await handOff(f, batchId, f.producer, f.wholesaler);
      await expect(submit(f, Kind.PesticideApplied, values.pesticide(batchId), f.wholesaler))
        .to.be.revertedWithCustomError(f.ledger, "AccessControlUnauthorizedAccount")
        .withArgs(f.wholesaler.address, role("PRODUCER_ROLE"));
    });

    it("refuses an unknown batch", async function () {
      const f = await fixture();
      const id = batchIdOf(GTIN, "NOPE");
      await expect(submit(f, Kind.PesticideApplied, values.pesticide(id), f.producer))
        .to.be.revertedWithCustomError(f.ledger, "UnknownBatch")
        .withArgs(id);
    });
  });

  describe("Inspected", function () {
    it("records a failed inspection by an inspector", async function () {
      const f = await fixture();
      const { batchId, values: r } = await registerBatch(f);
      const v = values.inspected(batchId, {});
      const failed = { ...v, passed: false };
      const eh = hashOf(f, Kind.Inspected, failed);
      await expect(submit(f, Kind.Inspected, failed, f.inspector))
        .to.emit(f.ledger, "Inspected")
        .withArgs(batchId, f.inspector.address, false, v.docHash, eh, headOf([hashOf(f, Kind.Registered, r), eh]));
    });

    it("refuses an inspection by anyone without INSPECTOR_ROLE", async function () {
      const f = await fixture();
      const { batchId } = await registerBatch(f);
      await expect(submit(f, Kind.Inspected, values.inspected(batchId), f.producer))
        .to.be.revertedWithCustomError(f.ledger, "AccessControlUnauthorizedAccount")
        .withArgs(f.producer.address, role("INSPECTOR_ROLE"));
    });
  });

  describe("CustomsCleared", function () {
    it("records the clearance of an imported batch by its importer of record", async function () {
      const f = await fixture();
      const { batchId, values: r } = await registerBatch(f, { imported: true });
      const v = values.customs(batchId);
      const eh = hashOf(f, Kind.CustomsCleared, v);
      await expect(submit(f, Kind.CustomsCleared, v, f.importer))
        .to.emit(f.ledger, "CustomsCleared")
        .withArgs(batchId, f.importer.address, v.declarationNumber, v.originCountry, v.docHash, eh, headOf([hashOf(f, Kind.Registered, r), eh]));
      expect((await f.ledger.getBatch(batchId)).customsCleared).to.equal(true);
    });

    it("refuses clearance by an importer other than the one who registered the batch", async function () {
      const f = await fixture();
      const { batchId } = await registerBatch(f, { imported: true });
      await expect(submit(f, Kind.CustomsCleared, values.customs(batchId), f.importer2))
        .to.be.revertedWithCustomError(f.ledger, "NotRegistrant")
        .withArgs(batchId, f.importer.address, f.importer2.address);
    });

    it("refuses clearance of a domestic batch, and a second clearance", async function () {
      const f = await fixture();
      const domestic = await registerBatch(f);
      await f.ledger.grantRole(role("IMPORTER_ROLE"), f.producer.address);
      await expect(submit(f, Kind.CustomsCleared, values.customs(domestic.batchId), f.producer))
        .to.be.revertedWithCustomError(f.ledger, "NotImported")
        .withArgs(domestic.batchId);
      const { batchId } = await registerBatch(f, { imported: true });
      await submit(f, Kind.CustomsCleared, values.customs(batchId), f.importer);
      await expect(submit(f, Kind.CustomsCleared, values.customs(batchId), f.importer))
        .to.be.revertedWithCustomError(f.ledger, "AlreadyCleared")
        .withArgs(batchId);
    });

    it("refuses clearance by an account without IMPORTER_ROLE", async function () {
      const f = await fixture();
      const { batchId } = await registerBatch(f, { imported: true });
      await expect(submit(f, Kind.CustomsCleared, values.customs(batchId), f.wholesaler))
        .to.be.revertedWithCustomError(f.ledger, "AccessControlUnauthorizedAccount")
        .withArgs(f.wholesaler.address, role("IMPORTER_ROLE"));
    });
  });

  describe("hand-off", function () {
    it("moves custody only when the named receiver accepts", async function () {
      const f = await fixture();
      const { batchId, values: r } = await registerBatch(f);
      const offer = values.offered(batchId, f.wholesaler.address);
      const ehOffer = hashOf(f, Kind.HandOffOffered, offer);
      const ehReg = hashOf(f, Kind.Registered, r);
      await expect(submit(f, Kind.HandOffOffered, offer, f.producer))
        .to.emit(f.ledger, "HandOffOffered")
        .withArgs(batchId, f.producer.address, f.wholesaler.address, offer.docHash, ehOffer, headOf([ehReg, ehOffer]));
      let b = await f.ledger.getBatch(batchId);
      expect([b.custodian, b.offeredTo]).to.deep.equal([f.producer.address, f.wholesaler.address]);

      const accept = values.accepted(batchId, f.producer.address);
      const ehAccept = hashOf(f, Kind.HandOffAccepted, accept);
      await expect(submit(f, Kind.HandOffAccepted, accept, f.wholesaler))
        .to.emit(f.ledger, "HandOffAccepted")
        .withArgs(batchId, f.wholesaler.address, f.producer.address, accept.docHash, ehAccept, headOf([ehReg, ehOffer, ehAccept]));
      b = await f.ledger.getBatch(batchId);
      expect([b.custodian, b.offeredTo]).to.deep.equal([f.wholesaler.address, ethers.ZeroAddress]);
    });

    it("lets only the custodian offer", async function () {
      const f = await fixture();
      const { batchId } = await registerBatch(f);
      await expect(submit(f, Kind.HandOffOffered, values.offered(batchId, f.wholesaler.address), f.producer2))
        .to.be.revertedWithCustomError(f.ledger, "NotCustodian")
        .withArgs(batchId, f.producer.address, f.producer2.address);
    });

    it("refuses an offer to oneself or to an account that cannot hold custody", async function () {
      const f = await fixture();
      const { batchId } = await registerBatch(f);
      await expect(submit(f, Kind.HandOffOffered, values.offered(batchId, f.producer.address), f.producer))
        .to.be.revertedWithCustomError(f.ledger, "SelfHandOff")
        .withArgs(batchId, f.producer.address);
      await expect(submit(f, Kind.HandOffOffered, values.offered(batchId, f.inspector.address), f.producer))
        .to.be.revertedWithCustomError(f.ledger, "NotCustodyHolder")
        .withArgs(f.inspector.address);
    });

    it("keeps one open offer at a time", async function () {
      const f = await fixture();
      const { batchId } = await registerBatch(f);
      await submit(f, Kind.HandOffOffered, values.offered(batchId, f.wholesaler.address), f.producer);
      await expect(submit(f, Kind.HandOffOffered, values.offered(batchId, f.stall.address), f.producer))
        .to.be.revertedWithCustomError(f.ledger, "OfferAlreadyOpen")
        .withArgs(batchId, f.wholesaler.address);
    });

    it("refuses acceptance by anyone but the named receiver", async function () {
      const f = await fixture();
      const { batchId } = await registerBatch(f);
      await submit(f, Kind.HandOffOffered, values.offered(batchId, f.wholesaler.address), f.producer);
      await expect(submit(f, Kind.HandOffAccepted, values.accepted(batchId, f.producer.address), f.stall))
        .to.be.revertedWithCustomError(f.ledger, "NotOfferRecipient")
        .withArgs(batchId, f.wholesaler.address, f.stall.address);
    });

    it("refuses an acceptance naming someone other than the custodian as sender", async function () {
      const f = await fixture();
      const { batchId } = await registerBatch(f);
      await submit(f, Kind.HandOffOffered, values.offered(batchId, f.wholesaler.address), f.producer);
      await expect(submit(f, Kind.HandOffAccepted, values.accepted(batchId, f.producer2.address), f.wholesaler))
        .to.be.revertedWithCustomError(f.ledger, "CustodianMismatch")
        .withArgs(batchId, f.producer.address, f.producer2.address);
    });

    it("refuses acceptance without an open offer, and after the receiver lost its custody role", async function () {
      const f = await fixture();
      const { batchId } = await registerBatch(f);
      await expect(submit(f, Kind.HandOffAccepted, values.accepted(batchId, f.producer.address), f.wholesaler))
        .to.be.revertedWithCustomError(f.ledger, "NoOpenOffer")
        .withArgs(batchId);
      await submit(f, Kind.HandOffOffered, values.offered(batchId, f.wholesaler.address), f.producer);
      await f.ledger.revokeRole(role("HANDLER_ROLE"), f.wholesaler.address);
      await expect(submit(f, Kind.HandOffAccepted, values.accepted(batchId, f.producer.address), f.wholesaler))
        .to.be.revertedWithCustomError(f.ledger, "NotCustodyHolder")
        .withArgs(f.wholesaler.address);
    });

    it("stops a custodian whose custody role was revoked from offering or splitting, but lets it cancel", async function () {
      const f = await fixture();
      const { batchId } = await registerBatch(f);
      await submit(f, Kind.HandOffOffered, values.offered(batchId, f.wholesaler.address), f.producer);
      await f.ledger.revokeRole(role("PRODUCER_ROLE"), f.producer.address);
      await submit(f, Kind.HandOffCancelled, values.cancelled(batchId, f.wholesaler.address), f.producer);
      await expect(submit(f, Kind.HandOffOffered, values.offered(batchId, f.wholesaler.address), f.producer))
        .to.be.revertedWithCustomError(f.ledger, "NotCustodyHolder")
        .withArgs(f.producer.address);
      await expect(submit(f, Kind.Split, values.split(batchId, children(50n, 50n)), f.producer))
        .to.be.revertedWithCustomError(f.ledger, "NotCustodyHolder")
        .withArgs(f.producer.address);
    });

    it("lets the custodian cancel its open offer, after which the receiver cannot accept", async function () {
      const f = await fixture();
      const { batchId } = await registerBatch(f);
      const offer = values.offered(batchId, f.wholesaler.address);
      await submit(f, Kind.HandOffOffered, offer, f.producer);
      const cancel = values.cancelled(batchId, f.wholesaler.address);
      const eh = hashOf(f, Kind.HandOffCancelled, cancel);
      await expect(submit(f, Kind.HandOffCancelled, cancel, f.producer))
        .to.emit(f.ledger, "HandOffCancelled")
        .withArgs(batchId, f.producer.address, f.wholesaler.address, cancel.docHash, eh, anyValue);
      expect((await f.ledger.getBatch(batchId)).offeredTo).to.equal(ethers.ZeroAddress);
      await expect(submit(f, Kind.HandOffAccepted, values.accepted(batchId, f.producer.address), f.wholesaler))
        .to.be.revertedWithCustomError(f.ledger, "NoOpenOffer")
        .withArgs(batchId);
    });

    it("refuses a cancellation by a non-custodian, of another receiver, or with no open offer", async function () {
      const f = await fixture();
      const { batchId } = await registerBatch(f);
      await expect(submit(f, Kind.HandOffCancelled, values.cancelled(batchId, f.wholesaler.address), f.producer))
        .to.be.revertedWithCustomError(f.ledger, "NoOpenOffer")
        .withArgs(batchId);
      await submit(f, Kind.HandOffOffered, values.offered(batchId, f.wholesaler.address), f.producer);
      await expect(submit(f, Kind.HandOffCancelled, values.cancelled(batchId, f.stall.address), f.producer))
        .to.be.revertedWithCustomError(f.ledger, "OfferMismatch")
        .withArgs(batchId, f.wholesaler.address, f.stall.address);
      await expect(submit(f, Kind.HandOffCancelled, values.cancelled(batchId, f.wholesaler.address), f.wholesaler))
        .to.be.revertedWithCustomError(f.ledger, "NotCustodian")
        .withArgs(batchId, f.producer.address, f.wholesaler.address);
    });
  });

  describe("imported batches and retail", function () {
    it("refuses to offer an imported batch to a retail stall before customs clearance", async function () {
      const f = await fixture();
      const { batchId } = await registerBatch(f, { imported: true });
      await expect(submit(f, Kind.HandOffOffered, values.offered(batchId, f.stall.address), f.importer))
        .to.be.revertedWithCustomError(f.ledger, "RetailBeforeClearance")
        .withArgs(batchId, f.stall.address);
    });

    it("refuses acceptance by a receiver who became retail after the offer, while the batch is uncleared", async function () {
      const f = await fixture();
      const { batchId } = await registerBatch(f, { imported: true });
      await submit(f, Kind.HandOffOffered, values.offered(batchId, f.wholesaler.address), f.importer);
      await f.ledger.setProfile(f.wholesaler.address, { name: "now a shop", gln: 0n, country: "0x4b52", retail: true });
      await expect(submit(f, Kind.HandOffAccepted, values.accepted(batchId, f.importer.address), f.wholesaler))
        .to.be.revertedWithCustomError(f.ledger, "RetailBeforeClearance")
        .withArgs(batchId, f.wholesaler.address);
    });

    it("allows the retail hand-off once customs has cleared the batch", async function () {
      const f = await fixture();
      const { batchId } = await registerBatch(f, { imported: true });
      await submit(f, Kind.CustomsCleared, values.customs(batchId), f.importer);
      await handOff(f, batchId, f.importer, f.stall);
      expect((await f.ledger.getBatch(batchId)).custodian).to.equal(f.stall.address);
    });

    it("allows an uncleared imported batch to go to a non-retail wholesaler, and a domestic one to retail", async function () {
      const f = await fixture();
      const imported = await registerBatch(f, { imported: true });
      await handOff(f, imported.batchId, f.importer, f.wholesaler);
      const domestic = await registerBatch(f);
      await handOff(f, domestic.batchId, f.producer, f.stall);
      expect((await f.ledger.getBatch(domestic.batchId)).custodian).to.equal(f.stall.address);
    });

    it("carries the uncleared state to split children, which the importer of record can then clear", async function () {
      const f = await fixture();
      const { batchId } = await registerBatch(f, { imported: true });
      const [a] = await splitBatch(f, batchId, f.importer, 30n, 70n);
      const child = await f.ledger.getBatch(a!);
      expect([child.imported, child.customsCleared, child.registrant]).to.deep.equal([true, false, f.importer.address]);
      await expect(submit(f, Kind.HandOffOffered, values.offered(a!, f.stall.address), f.importer)).to.be.revertedWithCustomError(
        f.ledger,
        "RetailBeforeClearance",
      );
      await submit(f, Kind.CustomsCleared, values.customs(a!), f.importer);
      await handOff(f, a!, f.importer, f.stall);
    });
  });

  describe("Split", function () {
    it("splits a batch into children that inherit custody, unit and import state, conserving quantity", async function () {
      const f = await fixture();
      const { batchId, values: r } = await registerBatch(f, { imported: true });
      await submit(f, Kind.CustomsCleared, values.customs(batchId), f.importer);
      const kids = children(10n, 20n, 70n);
      const ids = kids.map((c) => batchIdOf(c.gtin, c.lot));
      const v = values.split(batchId, kids);
      const eh = hashOf(f, Kind.Split, v);
      const before = await f.ledger.headOf(batchId);
      const tx = submit(f, Kind.Split, v, f.importer);
      await expect(tx)
        .to.emit(f.ledger, "Split")
        .withArgs(batchId, f.importer.address, ids, v.docHash, eh, nextHead(before, eh));
      for (const [i, id] of ids.entries()) {
        await expect(tx).to.emit(f.ledger, "Lineage").withArgs(id, batchId, eh, kids[i]!.quantity);
        const c = await f.ledger.getBatch(id);
        expect(c.custodian).to.equal(f.importer.address);
        expect(c.registrant).to.equal(f.importer.address);
        expect(c.quantity).to.equal(kids[i]!.quantity);
        expect([c.unit, c.imported, c.customsCleared, c.ancestry]).to.deep.equal([r.unit, true, true, 1n]);
        expect(c.parents).to.deep.equal([batchId]);
        expect(c.head).to.equal(nextHead(ZERO_HASH, eh));
      }
      expect((await f.ledger.getBatch(batchId)).status).to.equal(Status.Split);
    });

    it("keeps the registrant of record for every generation of split children, whoever splits them", async function () {
      const f = await fixture();
      await f.ledger.grantRole(role("IMPORTER_ROLE"), f.wholesaler.address);
      const { batchId } = await registerBatch(f, { imported: true });
      await handOff(f, batchId, f.importer, f.wholesaler);
      const [a] = await splitBatch(f, batchId, f.wholesaler, 40n, 60n);
      const [a1] = await splitBatch(f, a!, f.wholesaler, 10n, 30n);
      expect((await f.ledger.getBatch(a1!)).registrant).to.equal(f.importer.address);
      await expect(submit(f, Kind.CustomsCleared, values.customs(a1!), f.wholesaler))
        .to.be.revertedWithCustomError(f.ledger, "NotRegistrant")
        .withArgs(a1!, f.importer.address, f.wholesaler.address);
      await submit(f, Kind.CustomsCleared, values.customs(a1!), f.importer);
      expect((await f.ledger.getBatch(a1!)).customsCleared).to.equal(true);
      expect((await f.ledger.getBatch(a!)).customsCleared).to.equal(false);
      // A merged lot has the merger as registrant, and so do the lots split from it.
      const other = await registerBatch(f, { imported: true, quantity: 5n });
      await handOff(f, other.batchId, f.importer, f.wholesaler);
      const m = values.merged([a1!, other.batchId]);
      await submit(f, Kind.Merged, m, f.wholesaler);
      const [m1] = await splitBatch(f, batchIdOf(m.gtin, m.lot), f.wholesaler, 7n, 8n);
      expect((await f.ledger.getBatch(m1!)).registrant).to.equal(f.wholesaler.address);
    });

    it("reports each batch's own unit, however units interleave, and children in their parent's", async function () {
      const f = await fixture();
      const units = ["kg", "box", "kg", "u".repeat(32), "box"];
      const ids = [];
      for (const unit of units) ids.push((await registerBatch(f, { unit })).batchId);
      for (const [i, id] of ids.entries()) expect((await f.ledger.getBatch(id)).unit).to.equal(units[i]);
      const [c] = await splitBatch(f, ids[3]!, f.producer, 1n, 99n);
      expect((await f.ledger.getBatch(c!)).unit).to.equal("u".repeat(32));
      expect((await f.ledger.getBatch(batchIdOf(GTIN, freshLot()))).unit).to.equal("");
    });

    it("refuses a split whose children do not sum exactly to the parent's quantity", async function () {
      const f = await fixture();
      const { batchId } = await registerBatch(f);
      for (const qs of [[60n, 30n], [60n, 41n]]) {
        await expect(submit(f, Kind.Split, values.split(batchId, children(...qs)), f.producer))
          .to.be.revertedWithCustomError(f.ledger, "QuantityNotConserved")
          .withArgs(batchId, 100n, qs[0]! + qs[1]!);
      }
    });

    it("refuses a split into fewer than 2 or more than MAX_LINEAGE children, or a zero-quantity child", async function () {
      const f = await fixture();
      const { batchId } = await registerBatch(f, { quantity: 1000n });
      await expect(submit(f, Kind.Split, values.split(batchId, children(1000n)), f.producer))
        .to.be.revertedWithCustomError(f.ledger, "LineageSizeInvalid")
        .withArgs(1);
      const many = children(...Array.from({ length: 33 }, () => 1n));
      await expect(submit(f, Kind.Split, values.split(batchId, many), f.producer))
        .to.be.revertedWithCustomError(f.ledger, "LineageSizeInvalid")
        .withArgs(33);
      await expect(submit(f, Kind.Split, values.split(batchId, children(1000n, 0n)), f.producer)).to.be.revertedWithCustomError(
        f.ledger,
        "ZeroQuantity",
      );
    });

    it("refuses a child with an invalid GTIN or an id that already exists", async function () {
      const f = await fixture();
      const { batchId, values: r } = await registerBatch(f);
      const bad = [{ gtin: "00000000000001", lot: "X", quantity: 50n }, ...children(50n)];
      await expect(submit(f, Kind.Split, values.split(batchId, bad), f.producer)).to.be.revertedWithCustomError(
        f.ledger,
        "GtinCheckDigitMismatch",
      );
      const dup = [{ gtin: r.gtin, lot: r.lot, quantity: 50n }, ...children(50n)];
      await expect(submit(f, Kind.Split, values.split(batchId, dup), f.producer))
        .to.be.revertedWithCustomError(f.ledger, "BatchExists")
        .withArgs(batchId);
    });

    it("lets only the custodian split, and not while an offer is open", async function () {
      const f = await fixture();
      const { batchId } = await registerBatch(f);
      await expect(submit(f, Kind.Split, values.split(batchId, children(50n, 50n)), f.producer2))
        .to.be.revertedWithCustomError(f.ledger, "NotCustodian")
        .withArgs(batchId, f.producer.address, f.producer2.address);
      await submit(f, Kind.HandOffOffered, values.offered(batchId, f.wholesaler.address), f.producer);
      await expect(submit(f, Kind.Split, values.split(batchId, children(50n, 50n)), f.producer))
        .to.be.revertedWithCustomError(f.ledger, "OfferAlreadyOpen")
        .withArgs(batchId, f.wholesaler.address);
    });

    it("consumes the parent: no further event on it", async function () {
      const f = await fixture();
      const { batchId } = await registerBatch(f);
      await splitBatch(f, batchId, f.producer, 50n, 50n);
      await expect(submit(f, Kind.Inspected, values.inspected(batchId), f.inspector))
        .to.be.revertedWithCustomError(f.ledger, "BatchNotActive")
        .withArgs(batchId, Status.Split);
    });
  });

  describe("Merged", function () {
    it("merges parents held by one custodian into a child of their summed quantity", async function () {
      const f = await fixture();
      const a = await registerBatch(f, { quantity: 30n });
      const b = await registerBatch(f, { quantity: 45n });
      const v = values.merged([a.batchId, b.batchId]);
      const child = batchIdOf(v.gtin, v.lot);
      const eh = hashOf(f, Kind.Merged, v);
      const headA = await f.ledger.headOf(a.batchId);
      const tx = submit(f, Kind.Merged, v, f.producer);
      await expect(tx)
        .to.emit(f.ledger, "Merged")
        .withArgs(child, f.producer.address, [a.batchId, b.batchId], 75n, v.docHash, eh, nextHead(ZERO_HASH, eh));
      await expect(tx).to.emit(f.ledger, "Lineage").withArgs(child, a.batchId, eh, 30n);
      await expect(tx).to.emit(f.ledger, "Lineage").withArgs(child, b.batchId, eh, 45n);
      const c = await f.ledger.getBatch(child);
      expect([c.quantity, c.unit, c.custodian, c.registrant, c.ancestry]).to.deep.equal([75n, "kg", f.producer.address, f.producer.address, 2n]);
      expect(c.parents).to.deep.equal([a.batchId, b.batchId]);
      const pa = await f.ledger.getBatch(a.batchId);
      expect(pa.status).to.equal(Status.Merged);
      expect(pa.head).to.equal(nextHead(headA, eh));
    });

    it("marks the child imported if any parent was, and cleared only if every imported parent was", async function () {
      const f = await fixture();
      await f.ledger.grantRole(role("IMPORTER_ROLE"), f.wholesaler.address);
      const dom = await registerBatch(f);
      const cleared = await registerBatch(f, { imported: true });
      const uncleared = await registerBatch(f, { imported: true });
      await submit(f, Kind.CustomsCleared, values.customs(cleared.batchId), f.importer);
      for (const [id, from] of [[dom.batchId, f.producer], [cleared.batchId, f.importer], [uncleared.batchId, f.importer]] as const) {
        await handOff(f, id, from, f.wholesaler);
      }
      const m1 = values.merged([dom.batchId, cleared.batchId]);
      await submit(f, Kind.Merged, m1, f.wholesaler);
      const c1 = await f.ledger.getBatch(batchIdOf(m1.gtin, m1.lot));
      expect([c1.imported, c1.customsCleared]).to.deep.equal([true, true]);
      const m2 = values.merged([batchIdOf(m1.gtin, m1.lot), uncleared.batchId]);
      await submit(f, Kind.Merged, m2, f.wholesaler);
      const c2 = await f.ledger.getBatch(batchIdOf(m2.gtin, m2.lot));
      expect([c2.imported, c2.customsCleared, c2.ancestry]).to.deep.equal([true, false, 4n]);
    });

    it("marks a child of domestic parents neither imported nor cleared", async function () {
      const f = await fixture();
      const a = await registerBatch(f);
      const b = await registerBatch(f);
      const v = values.merged([a.batchId, b.batchId]);
      await submit(f, Kind.Merged, v, f.producer);
      const c = await f.ledger.getBatch(batchIdOf(v.gtin, v.lot));
      expect([c.imported, c.customsCleared]).to.deep.equal([false, false]);
    });

    it("refuses a merge that names its own new lot among its parents, existing or not", async function () {
      const f = await fixture();
      const a = await registerBatch(f);
      const lot = freshLot("M");
      const self = batchIdOf(GTIN, lot);
      await expect(submit(f, Kind.Merged, values.merged([a.batchId, self], { lot }), f.producer))
        .to.be.revertedWithCustomError(f.ledger, "MergeIntoParent")
        .withArgs(self);
      const b = await registerBatch(f);
      await expect(submit(f, Kind.Merged, values.merged([a.batchId, b.batchId], { gtin: b.values.gtin, lot: b.values.lot }), f.producer))
        .to.be.revertedWithCustomError(f.ledger, "MergeIntoParent")
        .withArgs(b.batchId);
      expect((await f.ledger.getBatch(self)).status).to.equal(0n);
    });

    it("refuses duplicate parents, a single parent and more than MAX_LINEAGE parents", async function () {
      const f = await fixture();
      const a = await registerBatch(f);
      const b = await registerBatch(f);
      await expect(submit(f, Kind.Merged, values.merged([a.batchId, b.batchId, a.batchId]), f.producer))
        .to.be.revertedWithCustomError(f.ledger, "DuplicateParent")
        .withArgs(a.batchId);
      await expect(submit(f, Kind.Merged, values.merged([a.batchId]), f.producer))
        .to.be.revertedWithCustomError(f.ledger, "LineageSizeInvalid")
        .withArgs(1);
      await expect(submit(f, Kind.Merged, values.merged(Array.from({ length: 33 }, () => a.batchId)), f.producer))
        .to.be.revertedWithCustomError(f.ledger, "LineageSizeInvalid")
        .withArgs(33);
    });

    it("refuses parents of different units", async function () {
      const f = await fixture();
      const a = await registerBatch(f);
      const b = await registerBatch(f, { unit: "box" });
      await expect(submit(f, Kind.Merged, values.merged([a.batchId, b.batchId]), f.producer))
        .to.be.revertedWithCustomError(f.ledger, "UnitMismatch")
        .withArgs(b.batchId, "box", "kg");
    });

    it("refuses a parent the actor does not hold, and a parent that is not active", async function () {
      const f = await fixture();
      const a = await registerBatch(f);
      const b = await registerBatch(f, {}, f.producer2);
      await expect(submit(f, Kind.Merged, values.merged([a.batchId, b.batchId]), f.producer))
        .to.be.revertedWithCustomError(f.ledger, "NotCustodian")
        .withArgs(b.batchId, f.producer2.address, f.producer.address);
      const c = await registerBatch(f);
      await splitBatch(f, c.batchId, f.producer, 50n, 50n);
      await expect(submit(f, Kind.Merged, values.merged([a.batchId, c.batchId]), f.producer))
        .to.be.revertedWithCustomError(f.ledger, "BatchNotActive")
        .withArgs(c.batchId, Status.Split);
    });

    it("refuses a child id that already exists", async function () {
      const f = await fixture();
      const a = await registerBatch(f);
      const b = await registerBatch(f);
      const c = await registerBatch(f);
      await expect(submit(f, Kind.Merged, values.merged([a.batchId, b.batchId], { gtin: c.values.gtin, lot: c.values.lot }), f.producer))
        .to.be.revertedWithCustomError(f.ledger, "BatchExists")
        .withArgs(c.batchId);
    });
  });

  describe("Recalled", function () {
    it("lets the regulator recall a batch, after which nothing else may happen to it", async function () {
      const f = await fixture();
      const { batchId, values: r } = await registerBatch(f);
      const v = values.recalled(batchId);
      const eh = hashOf(f, Kind.Recalled, v);
      await expect(submit(f, Kind.Recalled, v, f.regulator))
        .to.emit(f.ledger, "Recalled")
        .withArgs(batchId, f.regulator.address, v.reason, v.docHash, eh, headOf([hashOf(f, Kind.Registered, r), eh]));
      expect(await f.ledger.isRecalled(batchId)).to.equal(true);
      await expect(submit(f, Kind.Inspected, values.inspected(batchId), f.inspector))
        .to.be.revertedWithCustomError(f.ledger, "BatchRecalled")
        .withArgs(batchId, batchId);
      await expect(submit(f, Kind.HandOffOffered, values.offered(batchId, f.wholesaler.address), f.producer))
        .to.be.revertedWithCustomError(f.ledger, "BatchRecalled")
        .withArgs(batchId, batchId);
    });

    it("refuses acceptance of an offer made before the recall", async function () {
      const f = await fixture();
      const { batchId } = await registerBatch(f);
      await submit(f, Kind.HandOffOffered, values.offered(batchId, f.wholesaler.address), f.producer);
      await submit(f, Kind.Recalled, values.recalled(batchId), f.regulator);
      await expect(submit(f, Kind.HandOffAccepted, values.accepted(batchId, f.producer.address), f.wholesaler))
        .to.be.revertedWithCustomError(f.ledger, "BatchRecalled")
        .withArgs(batchId, batchId);
    });

    it("refuses a second recall of the same batch, and a recall by a non-regulator", async function () {
      const f = await fixture();
      const { batchId } = await registerBatch(f);
      await expect(submit(f, Kind.Recalled, values.recalled(batchId), f.inspector))
        .to.be.revertedWithCustomError(f.ledger, "AccessControlUnauthorizedAccount")
        .withArgs(f.inspector.address, role("REGULATOR_ROLE"));
      await submit(f, Kind.Recalled, values.recalled(batchId), f.regulator);
      await expect(submit(f, Kind.Recalled, values.recalled(batchId), f.regulator))
        .to.be.revertedWithCustomError(f.ledger, "AlreadyRecalled")
        .withArgs(batchId);
    });

    it("refuses a recall of an unknown batch", async function () {
      const f = await fixture();
      const id = batchIdOf(GTIN_B, "NONE");
      await expect(submit(f, Kind.Recalled, values.recalled(id), f.regulator))
        .to.be.revertedWithCustomError(f.ledger, "UnknownBatch")
        .withArgs(id);
    });

    it("recalls every descendant of a recalled (consumed) ancestor, through splits and merges", async function () {
      const f = await fixture();
      const { batchId: root } = await registerBatch(f);
      const [a, b] = await splitBatch(f, root, f.producer, 40n, 60n);
      const [a1, a2] = await splitBatch(f, a!, f.producer, 20n, 20n);
      const other = await registerBatch(f, { quantity: 20n });
      const m = values.merged([a1!, other.batchId]);
      await submit(f, Kind.Merged, m, f.producer);
      const merged = batchIdOf(m.gtin, m.lot);

      await submit(f, Kind.Recalled, values.recalled(a!), f.regulator);
      for (const id of [a!, a1!, a2!, merged]) expect(await f.ledger.isRecalled(id)).to.equal(true, id);
      for (const id of [root, b!, other.batchId]) expect(await f.ledger.isRecalled(id)).to.equal(false, id);

      await expect(submit(f, Kind.Inspected, values.inspected(a2!), f.inspector))
        .to.be.revertedWithCustomError(f.ledger, "BatchRecalled")
        .withArgs(a2!, a!);
      await expect(submit(f, Kind.HandOffOffered, values.offered(merged, f.wholesaler.address), f.producer))
        .to.be.revertedWithCustomError(f.ledger, "BatchRecalled")
        .withArgs(merged, a!);
      await expect(submit(f, Kind.Split, values.split(merged, children(10n, 30n)), f.producer))
        .to.be.revertedWithCustomError(f.ledger, "BatchRecalled")
        .withArgs(merged, a!);
      // Only the regulator still acts on a descendant: recalling it explicitly.
      await submit(f, Kind.Recalled, values.recalled(a2!), f.regulator);
      await submit(f, Kind.Inspected, values.inspected(b!), f.inspector);
    });

    it("refuses a merge that includes a parent with a recalled ancestor", async function () {
      const f = await fixture();
      const { batchId: root } = await registerBatch(f);
      const [a] = await splitBatch(f, root, f.producer, 50n, 50n);
      const other = await registerBatch(f);
      await submit(f, Kind.Recalled, values.recalled(root), f.regulator);
      await expect(submit(f, Kind.Merged, values.merged([other.batchId, a!]), f.producer))
        .to.be.revertedWithCustomError(f.ledger, "BatchRecalled")
        .withArgs(a!, root);
    });
  });

  describe("ancestry cap", function () {
    async function deepChain(f: Ledger, depth: number) {
      let { batchId } = await registerBatch(f, { quantity: 2n ** 40n });
      let quantity = 2n ** 40n;
      for (let i = 0; i < depth; i++) {
        const [next] = await splitBatch(f, batchId, f.producer, quantity - 1n, 1n);
        batchId = next!;
        quantity -= 1n;
      }
      return { batchId, quantity };
    }

    it("allows MAX_ANCESTRY generations of splits and refuses one more", async function () {
      const f = await fixture();
      const max = Number(await f.ledger.MAX_ANCESTRY());
      const { batchId, quantity } = await deepChain(f, max);
      expect((await f.ledger.getBatch(batchId)).ancestry).to.equal(BigInt(max));
      await expect(submit(f, Kind.Split, values.split(batchId, children(quantity - 1n, 1n)), f.producer))
        .to.be.revertedWithCustomError(f.ledger, "AncestryTooDeep")
        .withArgs(max + 1, max);
      // The walk over 32 ancestors still answers, and the recall of the root reaches the deepest descendant.
      expect(await f.ledger.isRecalled(batchId)).to.equal(false);
    });

    it("refuses a merge whose child would exceed MAX_ANCESTRY counted over every lineage path", async function () {
      const f = await fixture();
      const max = Number(await f.ledger.MAX_ANCESTRY());
      const deep = await deepChain(f, max - 1);
      const fresh = await registerBatch(f, { quantity: 5n });
      // (max - 1) + 1 for the deep parent, 0 + 1 for the fresh one.
      await expect(submit(f, Kind.Merged, values.merged([deep.batchId, fresh.batchId]), f.producer))
        .to.be.revertedWithCustomError(f.ledger, "AncestryTooDeep")
        .withArgs(max + 1, max);
    });
  });

  describe("views", function () {
    it("reports an unknown batch as status None, zero head and not recalled", async function () {
      const { ledger } = await fixture();
      const id = batchIdOf(GTIN, freshLot());
      expect((await ledger.getBatch(id)).status).to.equal(Status.None);
      expect(await ledger.headOf(id)).to.equal(ZERO_HASH);
      expect(await ledger.isRecalled(id)).to.equal(false);
    });
  });
});
