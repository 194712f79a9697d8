import { expect } from "chai";
import { keccak256, toUtf8Bytes } from "ethers";
import { Kind, ZERO_HASH, batchIdOf, gtinCheckDigit, nextHead } from "../../../ledger-api/src/protocol/typed-data.ts";
import type { Bytes32, ChildLot, ValuesOf } from "../../../ledger-api/src/protocol/typed-data.ts";
import { MAX_ANCESTRY, MAX_LINEAGE } from "../../../ledger-api/src/protocol/limits.ts";
import { ROLE_IDS } from "../../../ledger-api/src/protocol/roles.ts";
import { LayeredView } from "../../../ledger-api/src/ingest/ledger-view.ts";
import {
  checkEvent,
  recalledAncestor,
} from "../../../ledger-api/src/ingest/rules.ts";
import type { LedgerBatch, LedgerEvent, LedgerView, Verdict } from "../../../ledger-api/src/ingest/rules.ts";
import { MemoryLedger } from "./fixtures.ts";

const addr = (byte: string) => "0x" + byte.repeat(20);
const REGULATOR = addr("a1");
const PRODUCER = addr("b1");
const IMPORTER = addr("c1");
const INSPECTOR = addr("d1");
const HANDLER = addr("e1");
const STALL = addr("e2");
const OUTSIDER = addr("f1");

const gtin = (first13: string) => first13 + String(gtinCheckDigit(first13));
const G = gtin("0880123456789");
const NOW = 1_800_000_000n;
const EH = keccak256(toUtf8Bytes("event"));
const id = (lot: string) => batchIdOf(G, lot);
const A = id("A");
const B = id("B");
const C = id("C");

let nonce = 0n;
function common() {
  return { occurredAt: 1n, docHash: ZERO_HASH, nonce: ++nonce, deadline: NOW + 60n };
}

function ledger(): MemoryLedger {
  return new MemoryLedger()
    .grant(REGULATOR, "REGULATOR")
    .grant(PRODUCER, "PRODUCER")
    .grant(IMPORTER, "IMPORTER")
    .grant(INSPECTOR, "INSPECTOR")
    .grant(HANDLER, "HANDLER")
    .grant(STALL, "HANDLER")
    .setRetail(STALL);
}

function ev<K extends Exclude<Kind, Kind.Observed>>(kind: K, actor: string, values: ValuesOf[K]): LedgerEvent {
  return { kind, actor, values, eventHash: EH } as LedgerEvent;
}

const registered = (over: Partial<ValuesOf[Kind.Registered]> = {}): ValuesOf[Kind.Registered] => ({
  gtin: G,
  lot: "NEW",
  product: "p",
  originCountry: "0x4b52",
  region: "r",
  farmGln: 0n,
  harvestDate: 0n,
  quantity: 10n,
  unit: "kg",
  imported: false,
  ...common(),
  ...over,
});
const offered = (batchId: Bytes32, to: string) => ({ batchId, to, ...common() });
const accepted = (batchId: Bytes32, from: string) => ({ batchId, from, ...common() });
const split = (batchId: Bytes32, children: ChildLot[]) => ({ batchId, children, ...common() });
const kids = (...quantities: bigint[]): ChildLot[] => quantities.map((quantity, i) => ({ gtin: G, lot: `K${i}`, quantity }));
const merged = (parents: Bytes32[], lot = "M") => ({ parents, gtin: G, lot, ...common() });
const recalled = (batchId: Bytes32) => ({ batchId, reason: "r", ...common() });
const inspected = (batchId: Bytes32) => ({ batchId, passed: true, ...common() });
const customs = (batchId: Bytes32) => ({
  batchId,
  declarationNumber: "d",
  hsCode: "h",
  originCountry: "0x4e5a",
  portOfEntry: "p",
  ...common(),
});
const pesticide = (batchId: Bytes32) => ({ batchId, substance: "s", casNumber: "1", preHarvestIntervalDays: 1n, ...common() });

function refusal(v: Verdict): { rule: string; args: readonly unknown[] } {
  if (v.ok) throw new Error("expected a refusal, got acceptance");
  expect(v.message).to.be.a("string").and.not.equal("");
  return { rule: v.rule, args: v.args };
}

function expectRefused(view: LedgerView, event: LedgerEvent, rule: string, args?: readonly unknown[]): void {
  const r = refusal(checkEvent(view, event, NOW));
  expect(r.rule).to.equal(rule);
  if (args) expect(r.args).to.deep.equal(args);
}

function accept(view: LedgerView, event: LedgerEvent) {
  const v = checkEvent(view, event, NOW);
  if (!v.ok) throw new Error(`expected acceptance, got ${v.message}`);
  return v.effects;
}

function stateIn(effects: ReturnType<typeof accept>, batchId: Bytes32): LedgerBatch {
  const e = effects.find((x) => x.type === "batch" && x.batchId.toLowerCase() === batchId.toLowerCase());
  if (e === undefined || e.type !== "batch") throw new Error(`no effect on ${batchId}`);
  return e.state;
}

describe("ingest rules (mirror of ProvenanceLedger)", function () {
  describe("authentication checks every event shares", function () {
    it("refuses an event whose deadline is before the block time, and accepts one due exactly then", function () {
      const l = ledger();
      expectRefused(l, ev(Kind.Registered, PRODUCER, registered({ deadline: NOW - 1n })), "DeadlinePassed", [NOW - 1n, NOW]);
      accept(l, ev(Kind.Registered, PRODUCER, registered({ deadline: NOW })));
    });

    it("refuses a nonce the actor already spent, and spends the nonce of an accepted event", function () {
      const v = registered();
      const l = ledger().spend(PRODUCER, v.nonce);
      expectRefused(l, ev(Kind.Registered, PRODUCER, v), "NonceAlreadyUsed", [PRODUCER, v.nonce]);
      const effects = accept(ledger(), ev(Kind.Registered, PRODUCER, v));
      expect(effects[0]).to.deep.equal({ type: "nonce", actor: PRODUCER, nonce: v.nonce });
    });

    it("checks the deadline before the nonce, and the nonce before any role", function () {
      const v = registered({ deadline: 0n });
      expectRefused(ledger().spend(OUTSIDER, v.nonce), ev(Kind.Registered, OUTSIDER, v), "DeadlinePassed");
      const w = registered();
      expectRefused(ledger().spend(OUTSIDER, w.nonce), ev(Kind.Registered, OUTSIDER, w), "NonceAlreadyUsed");
    });

    it("accepts an Observed event with no effects: the contract has no rule for it", function () {
      const v = checkEvent(ledger(), { kind: Kind.Observed, actor: OUTSIDER, values: { batchId: A, ...common() }, eventHash: EH }, NOW);
      expect(v).to.deep.equal({ ok: true, effects: [] });
    });
  });

  describe("Registered", function () {
    it("creates an active batch held and registered by its producer, its head started by the event hash", function () {
      const effects = accept(ledger(), ev(Kind.Registered, PRODUCER, registered()));
      expect(stateIn(effects, id("NEW"))).to.deep.equal({
        registrant: PRODUCER,
        custodian: PRODUCER,
        quantity: 10n,
        unit: "kg",
        status: "Active",
        recalled: false,
        imported: false,
        customsCleared: false,
        offerTo: undefined,
        parents: [],
        ancestry: 0,
        head: nextHead(ZERO_HASH, EH),
      });
    });

    it("needs PRODUCER_ROLE for a domestic batch and IMPORTER_ROLE for an imported one", function () {
      expectRefused(ledger(), ev(Kind.Registered, IMPORTER, registered()), "AccessControlUnauthorizedAccount", [IMPORTER, ROLE_IDS.PRODUCER]);
      expectRefused(ledger(), ev(Kind.Registered, PRODUCER, registered({ imported: true })), "AccessControlUnauthorizedAccount", [PRODUCER, ROLE_IDS.IMPORTER]);
      expect(stateIn(accept(ledger(), ev(Kind.Registered, IMPORTER, registered({ imported: true }))), id("NEW")).imported).to.equal(true);
    });

    it("refuses a GTIN that is not 14 ASCII digits, even a valid GTIN-13 the documents would pad", function () {
      for (const bad of [G.slice(1), G + "0", G.slice(0, 5) + "A" + G.slice(6), "٠".repeat(14)]) {
        expectRefused(ledger(), ev(Kind.Registered, PRODUCER, registered({ gtin: bad })), "GtinMalformed", [bad]);
      }
    });

    it("refuses a GTIN whose check digit is wrong, naming the expected and actual digits", function () {
      const bad = G.slice(0, 13) + String((Number(G[13]) + 1) % 10);
      expectRefused(ledger(), ev(Kind.Registered, PRODUCER, registered({ gtin: bad })), "GtinCheckDigitMismatch", [bad, BigInt(G[13]!), BigInt(bad[13]!)]);
    });

    it("refuses an empty lot or one longer than 20 bytes, counting UTF-8 bytes", function () {
      expectRefused(ledger(), ev(Kind.Registered, PRODUCER, registered({ lot: "" })), "LotLengthInvalid", ["", 0n]);
      expectRefused(ledger(), ev(Kind.Registered, PRODUCER, registered({ lot: "X".repeat(21) })), "LotLengthInvalid");
      // 11 characters but 22 bytes: the length rule fires before the character rule.
      expectRefused(ledger(), ev(Kind.Registered, PRODUCER, registered({ lot: "Ä".repeat(11) })), "LotLengthInvalid", ["Ä".repeat(11), 22n]);
    });

    it("refuses a lot character outside GS1 set 82, at the byte where it starts", function () {
      expectRefused(ledger(), ev(Kind.Registered, PRODUCER, registered({ lot: "AB#1" })), "LotCharacterInvalid", ["AB#1", 2n]);
      expectRefused(ledger(), ev(Kind.Registered, PRODUCER, registered({ lot: "Aé" })), "LotCharacterInvalid", ["Aé", 1n]);
      accept(ledger(), ev(Kind.Registered, PRODUCER, registered({ lot: `!"%&'()*+,-./:;<=>?_` })));
    });

    it("refuses a zero quantity, then a unit that is empty or longer than 32 bytes, then an existing id", function () {
      expectRefused(ledger(), ev(Kind.Registered, PRODUCER, registered({ quantity: 0n, unit: "" })), "ZeroQuantity", []);
      expectRefused(ledger(), ev(Kind.Registered, PRODUCER, registered({ unit: "" })), "UnitInvalid", [""]);
      expectRefused(ledger(), ev(Kind.Registered, PRODUCER, registered({ unit: "箱".repeat(11) })), "UnitInvalid");
      accept(ledger(), ev(Kind.Registered, PRODUCER, registered({ unit: "u".repeat(32) })));
      const l = ledger().put(id("NEW"), { custodian: HANDLER });
      expectRefused(l, ev(Kind.Registered, PRODUCER, registered({ unit: "" })), "UnitInvalid");
      expectRefused(l, ev(Kind.Registered, PRODUCER, registered()), "BatchExists", [id("NEW")]);
    });
  });

  describe("batch state checks (unknown, consumed, recalled)", function () {
    it("refuses an unknown batch, then a consumed one with its status, then a recalled one", function () {
      const l = ledger().put(A, { custodian: PRODUCER, status: "Split" }).put(B, { custodian: PRODUCER, recalled: true });
      expectRefused(l, ev(Kind.Inspected, INSPECTOR, inspected(C)), "UnknownBatch", [C]);
      expectRefused(l, ev(Kind.Inspected, INSPECTOR, inspected(A)), "BatchNotActive", [A, 2n]);
      expectRefused(l, ev(Kind.Inspected, INSPECTOR, inspected(B)), "BatchRecalled", [B, B]);
    });

    it("refuses a batch whose ancestor is recalled, naming that ancestor", function () {
      const l = ledger()
        .put(A, { custodian: PRODUCER, status: "Split", recalled: true })
        .put(B, { custodian: PRODUCER, status: "Split", parents: [A], ancestry: 1 })
        .put(C, { custodian: PRODUCER, parents: [B], ancestry: 2 });
      expectRefused(l, ev(Kind.Inspected, INSPECTOR, inspected(C)), "BatchRecalled", [C, A]);
    });
  });

  describe("PesticideApplied, Inspected, CustomsCleared", function () {
    it("lets only the producer holding the batch record a pesticide", function () {
      const l = ledger().put(A, { custodian: HANDLER });
      expectRefused(l, ev(Kind.PesticideApplied, HANDLER, pesticide(A)), "AccessControlUnauthorizedAccount", [HANDLER, ROLE_IDS.PRODUCER]);
      expectRefused(l, ev(Kind.PesticideApplied, PRODUCER, pesticide(A)), "NotCustodian", [A, HANDLER, PRODUCER]);
    });

    it("lets any inspector record an inspection of an active batch, extending its head", function () {
      const l = ledger().put(A, { custodian: HANDLER, head: EH });
      expectRefused(l, ev(Kind.Inspected, PRODUCER, inspected(A)), "AccessControlUnauthorizedAccount", [PRODUCER, ROLE_IDS.INSPECTOR]);
      expect(stateIn(accept(l, ev(Kind.Inspected, INSPECTOR, inspected(A))), A).head).to.equal(nextHead(EH, EH));
    });

    it("clears customs only for an imported batch, by its importer of record, once", function () {
      const other = addr("c2");
      const l = ledger()
        .grant(other, "IMPORTER")
        .put(A, { custodian: IMPORTER, registrant: IMPORTER })
        .put(B, { custodian: HANDLER, registrant: IMPORTER, imported: true })
        .put(C, { custodian: IMPORTER, registrant: IMPORTER, imported: true, customsCleared: true });
      expectRefused(l, ev(Kind.CustomsCleared, PRODUCER, customs(B)), "AccessControlUnauthorizedAccount");
      expectRefused(l, ev(Kind.CustomsCleared, IMPORTER, customs(A)), "NotImported", [A]);
      expectRefused(l, ev(Kind.CustomsCleared, other, customs(B)), "NotRegistrant", [B, IMPORTER, other]);
      expectRefused(l, ev(Kind.CustomsCleared, IMPORTER, customs(C)), "AlreadyCleared", [C]);
      expect(stateIn(accept(l, ev(Kind.CustomsCleared, IMPORTER, customs(B))), B).customsCleared).to.equal(true);
    });
  });

  describe("hand-offs", function () {
    it("opens an offer from the custodian to a custody holder, without moving custody", function () {
      const s = stateIn(accept(ledger().put(A, { custodian: PRODUCER }), ev(Kind.HandOffOffered, PRODUCER, offered(A, HANDLER))), A);
      expect([s.custodian, s.offerTo]).to.deep.equal([PRODUCER, HANDLER]);
    });

    it("checks the offer in the contract's order: custodian, custody role, open offer, self, receiver, retail", function () {
      const l = ledger()
        .put(A, { custodian: PRODUCER })
        .put(B, { custodian: PRODUCER, offerTo: HANDLER })
        .put(C, { custodian: IMPORTER, imported: true })
        .put(id("R"), { custodian: INSPECTOR });
      expectRefused(l, ev(Kind.HandOffOffered, HANDLER, offered(A, HANDLER)), "NotCustodian", [A, PRODUCER, HANDLER]);
      expectRefused(l, ev(Kind.HandOffOffered, INSPECTOR, offered(id("R"), HANDLER)), "NotCustodyHolder", [INSPECTOR]);
      expectRefused(l, ev(Kind.HandOffOffered, PRODUCER, offered(B, PRODUCER)), "OfferAlreadyOpen", [B, HANDLER]);
      expectRefused(l, ev(Kind.HandOffOffered, PRODUCER, offered(A, PRODUCER)), "SelfHandOff", [A, PRODUCER]);
      expectRefused(l, ev(Kind.HandOffOffered, PRODUCER, offered(A, OUTSIDER)), "NotCustodyHolder", [OUTSIDER]);
      expectRefused(l, ev(Kind.HandOffOffered, IMPORTER, offered(C, STALL)), "RetailBeforeClearance", [C, STALL]);
      accept(l, ev(Kind.HandOffOffered, PRODUCER, offered(A, STALL)));
    });

    it("moves custody when the named receiver accepts from the custodian, and closes the offer", function () {
      const l = ledger().put(A, { custodian: PRODUCER, offerTo: HANDLER });
      const s = stateIn(accept(l, ev(Kind.HandOffAccepted, HANDLER, accepted(A, PRODUCER))), A);
      expect([s.custodian, s.offerTo, s.registrant]).to.deep.equal([HANDLER, undefined, PRODUCER]);
    });

    it("refuses an acceptance with no offer, by anyone else, naming the wrong custodian, or by a receiver no longer allowed", function () {
      const l = ledger()
        .put(A, { custodian: PRODUCER })
        .put(B, { custodian: IMPORTER, offerTo: STALL, imported: true })
        .put(C, { custodian: PRODUCER, offerTo: HANDLER });
      expectRefused(l, ev(Kind.HandOffAccepted, HANDLER, accepted(A, PRODUCER)), "NoOpenOffer", [A]);
      expectRefused(l, ev(Kind.HandOffAccepted, STALL, accepted(C, PRODUCER)), "NotOfferRecipient", [C, HANDLER, STALL]);
      expectRefused(l, ev(Kind.HandOffAccepted, HANDLER, accepted(C, IMPORTER)), "CustodianMismatch", [C, PRODUCER, IMPORTER]);
      // The retail rule is checked again on acceptance (the stall turned retail after the offer).
      expectRefused(l, ev(Kind.HandOffAccepted, STALL, accepted(B, IMPORTER)), "RetailBeforeClearance", [B, STALL]);
      l.revoke(HANDLER, "HANDLER");
      expectRefused(l, ev(Kind.HandOffAccepted, HANDLER, accepted(C, PRODUCER)), "NotCustodyHolder", [HANDLER]);
    });

    it("lets the custodian withdraw exactly its open offer, even after losing its custody role", function () {
      const l = ledger().put(A, { custodian: PRODUCER, offerTo: HANDLER }).put(B, { custodian: PRODUCER });
      const cancel = (batchId: Bytes32, to: string) => ({ batchId, to, ...common() });
      expectRefused(l, ev(Kind.HandOffCancelled, HANDLER, cancel(A, HANDLER)), "NotCustodian");
      expectRefused(l, ev(Kind.HandOffCancelled, PRODUCER, cancel(B, HANDLER)), "NoOpenOffer", [B]);
      expectRefused(l, ev(Kind.HandOffCancelled, PRODUCER, cancel(A, STALL)), "OfferMismatch", [A, HANDLER, STALL]);
      l.revoke(PRODUCER, "PRODUCER");
      expect(stateIn(accept(l, ev(Kind.HandOffCancelled, PRODUCER, cancel(A, HANDLER))), A).offerTo).to.equal(undefined);
    });
  });

  describe("Split", function () {
    it("consumes the parent into children that inherit its keys and start their heads at the event hash", function () {
      const l = ledger().put(A, { custodian: HANDLER, registrant: IMPORTER, quantity: 10n, imported: true, customsCleared: true, ancestry: 3, unit: "box" });
      const effects = accept(l, ev(Kind.Split, HANDLER, split(A, kids(6n, 4n))));
      expect(effects.map((e) => (e.type === "batch" ? e.batchId : "nonce"))).to.deep.equal(["nonce", id("K0"), id("K1"), A]);
      expect(stateIn(effects, A).status).to.equal("Split");
      expect(stateIn(effects, id("K1"))).to.deep.equal({
        registrant: IMPORTER,
        custodian: HANDLER,
        quantity: 4n,
        unit: "box",
        status: "Active",
        recalled: false,
        imported: true,
        customsCleared: true,
        offerTo: undefined,
        parents: [A],
        ancestry: 4,
        head: nextHead(ZERO_HASH, EH),
      });
    });

    it("needs 2 to MAX_LINEAGE children, and refuses a parent already MAX_ANCESTRY deep", function () {
      const l = ledger().put(A, { custodian: HANDLER, quantity: 100n }).put(B, { custodian: HANDLER, ancestry: MAX_ANCESTRY });
      expectRefused(l, ev(Kind.Split, HANDLER, split(A, kids(100n))), "LineageSizeInvalid", [1n]);
      const many = Array.from({ length: MAX_LINEAGE + 1 }, (_, i) => ({ gtin: G, lot: `Q${i}`, quantity: 1n }));
      expectRefused(l, ev(Kind.Split, HANDLER, split(A, many)), "LineageSizeInvalid", [33n]);
      expectRefused(l, ev(Kind.Split, HANDLER, split(B, kids(50n, 50n))), "AncestryTooDeep", [33n, 32n]);
    });

    it("checks each child's keys, quantity and id in turn, before conservation", function () {
      const l = ledger().put(A, { custodian: HANDLER }).put(id("K1"), { custodian: PRODUCER });
      const children = kids(1n, 1n);
      expectRefused(l, ev(Kind.Split, HANDLER, split(A, [{ ...children[0]!, quantity: 0n }, { ...children[1]!, lot: "" }])), "ZeroQuantity");
      expectRefused(l, ev(Kind.Split, HANDLER, split(A, [children[0]!, { ...children[1]!, lot: "" }])), "LotLengthInvalid");
      expectRefused(l, ev(Kind.Split, HANDLER, split(A, children)), "BatchExists", [id("K1")]);
      // Two children with one id: the second finds the first already created.
      expectRefused(l, ev(Kind.Split, HANDLER, split(A, [children[0]!, children[0]!])), "BatchExists", [id("K0")]);
      expectRefused(l, ev(Kind.Split, HANDLER, split(A, [{ gtin: G, lot: "P", quantity: 50n }, { gtin: G, lot: "Q", quantity: 49n }])), "QuantityNotConserved", [A, 100n, 99n]);
    });

    it("reports a uint256 overflow of the children's sum as the compiler's Panic, as the contract reverts", function () {
      const l = ledger().put(A, { custodian: HANDLER });
      const huge = (1n << 256n) - 1n;
      expectRefused(l, ev(Kind.Split, HANDLER, split(A, [{ gtin: G, lot: "P", quantity: huge }, { gtin: G, lot: "Q", quantity: 1n }])), "Panic", [0x11n]);
    });
  });

  describe("Merged", function () {
    function twoHeld() {
      return ledger()
        .put(A, { custodian: HANDLER, quantity: 3n, ancestry: 1, imported: true, customsCleared: true })
        .put(B, { custodian: HANDLER, quantity: 4n, ancestry: 2, imported: true })
        .put(C, { custodian: HANDLER, quantity: 5n });
    }

    it("consumes every parent and creates a child of their summed quantity and ancestry, held and registered by the merger", function () {
      const effects = accept(twoHeld(), ev(Kind.Merged, HANDLER, merged([A, B])));
      expect(stateIn(effects, A).status).to.equal("Merged");
      expect(stateIn(effects, B).head).to.equal(nextHead(ZERO_HASH, EH));
      const child = stateIn(effects, id("M"));
      expect(child).to.deep.include({ registrant: HANDLER, custodian: HANDLER, quantity: 7n, ancestry: 5, imported: true, customsCleared: false, status: "Active" });
      expect(child.parents).to.deep.equal([A, B]);
    });

    it("clears the child when every imported parent was cleared, and leaves a domestic child uncleared", function () {
      expect(stateIn(accept(twoHeld(), ev(Kind.Merged, HANDLER, merged([A, C]))), id("M"))).to.deep.include({ imported: true, customsCleared: true });
      const domestic = ledger().put(A, { custodian: HANDLER }).put(C, { custodian: HANDLER });
      expect(stateIn(accept(domestic, ev(Kind.Merged, HANDLER, merged([A, C]))), id("M"))).to.deep.include({ imported: false, customsCleared: false });
    });

    it("checks the parent count, then the child's keys and id, then distinct parents, then each parent", function () {
      const l = twoHeld().put(id("TAKEN"), { custodian: HANDLER });
      expectRefused(l, ev(Kind.Merged, HANDLER, merged([A])), "LineageSizeInvalid", [1n]);
      expectRefused(l, ev(Kind.Merged, HANDLER, merged([A, A], "")), "LotLengthInvalid");
      expectRefused(l, ev(Kind.Merged, HANDLER, merged([A, A], "TAKEN")), "BatchExists", [id("TAKEN")]);
      expectRefused(l, ev(Kind.Merged, HANDLER, merged([A, B, A])), "DuplicateParent", [A]);
      expectRefused(l, ev(Kind.Merged, HANDLER, merged([A, id("NONE")])), "UnknownBatch", [id("NONE")]);
      expectRefused(l, ev(Kind.Merged, PRODUCER, merged([A, B])), "NotCustodian", [A, HANDLER, PRODUCER]);
    });

    it("refuses parents in different units, and a child more than MAX_ANCESTRY deep", function () {
      const l = twoHeld().put(id("BOX"), { custodian: HANDLER, unit: "box" }).put(id("DEEP"), { custodian: HANDLER, ancestry: 31 });
      expectRefused(l, ev(Kind.Merged, HANDLER, merged([A, id("BOX")])), "UnitMismatch", [id("BOX"), "box", "kg"]);
      expectRefused(l, ev(Kind.Merged, HANDLER, merged([A, id("DEEP")])), "AncestryTooDeep", [34n, 32n]);
    });

    it("refuses an unknown first parent as UnknownBatch", function () {
      expectRefused(twoHeld(), ev(Kind.Merged, HANDLER, merged([id("NONE"), A])), "UnknownBatch", [id("NONE")]);
    });

    it("refuses a merge that lists its own new lot among its parents, before creating anything", function () {
      expectRefused(twoHeld(), ev(Kind.Merged, HANDLER, merged([id("M"), A])), "MergeIntoParent", [id("M")]);
      expectRefused(twoHeld(), ev(Kind.Merged, HANDLER, merged([A, id("M")])), "MergeIntoParent", [id("M")]);
    });
  });

  describe("Recalled", function () {
    it("lets only the regulator recall a known batch, consumed or not, but never twice", function () {
      const l = ledger().put(A, { custodian: HANDLER, status: "Merged" }).put(B, { custodian: HANDLER, recalled: true });
      expectRefused(l, ev(Kind.Recalled, PRODUCER, recalled(A)), "AccessControlUnauthorizedAccount", [PRODUCER, ROLE_IDS.REGULATOR]);
      expectRefused(l, ev(Kind.Recalled, REGULATOR, recalled(C)), "UnknownBatch", [C]);
      expectRefused(l, ev(Kind.Recalled, REGULATOR, recalled(B)), "AlreadyRecalled", [B]);
      expect(stateIn(accept(l, ev(Kind.Recalled, REGULATOR, recalled(A))), A).recalled).to.equal(true);
    });

    it("lets a batch whose ancestor is recalled be recalled itself", function () {
      const l = ledger().put(A, { custodian: HANDLER, recalled: true, status: "Split" }).put(B, { custodian: HANDLER, parents: [A], ancestry: 1 });
      accept(l, ev(Kind.Recalled, REGULATOR, recalled(B)));
    });
  });

  describe("recalledAncestor", function () {
    it("answers undefined for an unknown or clean batch, and the batch itself when it is recalled", function () {
      const l = ledger().put(A, { custodian: HANDLER }).put(B, { custodian: HANDLER, recalled: true });
      expect(recalledAncestor(l, C)).to.equal(undefined);
      expect(recalledAncestor(l, A)).to.equal(undefined);
      expect(recalledAncestor(l, B)).to.equal(B);
    });

    it("walks parents depth first from the last one, as the contract's stack does", function () {
      const l = ledger()
        .put(A, { custodian: HANDLER, recalled: true, status: "Merged" })
        .put(B, { custodian: HANDLER, recalled: true, status: "Merged" })
        .put(C, { custodian: HANDLER, parents: [A, B], ancestry: 2 });
      expect(recalledAncestor(l, C)).to.equal(B);
    });
  });

  describe("LayeredView", function () {
    it("judges a run of unmined events in order: register, offer, accept, then refuses the replay", function () {
      const o = new LayeredView(ledger());
      const reg = registered({ lot: "RUN" });
      const run = id("RUN");
      expect(o.admit(ev(Kind.Registered, PRODUCER, reg), NOW).ok).to.equal(true);
      expect(o.admit(ev(Kind.HandOffOffered, PRODUCER, offered(run, HANDLER)), NOW).ok).to.equal(true);
      expect(o.admit(ev(Kind.HandOffAccepted, HANDLER, accepted(run, PRODUCER)), NOW).ok).to.equal(true);
      expect(o.batch(run)?.custodian).to.equal(HANDLER);
      expect(o.nonceUsed(PRODUCER, reg.nonce)).to.equal(true);
      expect(o.size).to.deep.equal({ batches: 1, nonces: 3 });
      const again = o.admit(ev(Kind.Registered, PRODUCER, reg), NOW);
      expect(again.ok ? "accepted" : again.rule).to.equal("NonceAlreadyUsed");
    });

    it("leaves the overlay unchanged by a refused event, and reads roles and profiles from the base", function () {
      const base = ledger().put(A, { custodian: PRODUCER });
      const o = new LayeredView(base);
      expect(o.admit(ev(Kind.HandOffOffered, PRODUCER, offered(A, OUTSIDER)), NOW).ok).to.equal(false);
      expect(o.size).to.deep.equal({ batches: 0, nonces: 0 });
      expect(o.batch(A)).to.equal(base.batch(A));
      expect([o.hasRole("HANDLER", STALL), o.isRetail(STALL), o.hasRole("HANDLER", OUTSIDER)]).to.deep.equal([true, true, false]);
    });
  });
});
