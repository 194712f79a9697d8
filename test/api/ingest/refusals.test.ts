/**
 * POST /v1/events refusals: every way a request can be wrong is answered with a 4xx (never a 5xx), a stable `code`,
 * a human `message`, and the `index` / `rule` / `role` a submitter needs to fix it; and a refused request stores
 * nothing: the log's checkpoint (size and root) and the relay's queue are what they were before, and none of the
 * request's events counts as pending for the next request's rule check.
 */
import { expect } from "chai";
import { Wallet } from "ethers";
import { signEvent } from "../../../ledger-api/src/client/client.ts";
import type { DemoActorName } from "../../../ledger-api/src/demo/story.ts";
import type { EventDoc, SignedEvent } from "../../../ledger-api/src/protocol/documents.ts";
import { networkHelpers, startLedger, type Ledger } from "../harness.ts";
import { forEachDriver } from "../store/drivers.ts";

const GTIN = "08801234000017";
const IMPORT_GTIN = "09300012000014";
/** secp256k1 group order. */
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

let lots = 0;
/** A batch nobody has used yet on this chain. */
function freshBatch(gtin = GTIN): { gtin: string; lot: string } {
  return { gtin, lot: `RF-${++lots}` };
}

function hoursAgo(h: number): string {
  return new Date(Date.now() - h * 3_600_000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

type Batch = { gtin: string; lot: string };

const docs = {
  registered: (batch: Batch, over: Partial<Extract<EventDoc, { kind: "Registered" }>> = {}): EventDoc => ({
    kind: "Registered",
    batch,
    occurredAt: hoursAgo(10),
    product: "Jeju Hallabong tangerines",
    origin: { country: "KR", region: "Jeju-do", farm: { name: "Orchard 3", gln: "8801234000055" } },
    harvestDate: hoursAgo(30).slice(0, 10),
    quantity: { value: 1200, unit: "kg" },
    imported: false,
    ...over,
  }),
  pesticide: (batch: Batch): EventDoc => ({
    kind: "PesticideApplied",
    batch,
    occurredAt: hoursAgo(9),
    substance: { name: "Imidacloprid", casNumber: "138261-41-3" },
    dose: { value: 0.25, unit: "L/10a" },
    preHarvestIntervalDays: 21,
  }),
  inspected: (batch: Batch, value: number, passed: boolean): EventDoc => ({
    kind: "Inspected",
    batch,
    occurredAt: hoursAgo(8),
    lab: { name: "Seogwipo Lab" },
    method: "LC-MS/MS",
    analytes: [{ name: "Chlorpyrifos", value, limit: 0.01, unit: "mg/kg" }],
    passed,
  }),
  offer: (batch: Batch, to: string): EventDoc => ({ kind: "HandOffOffered", batch, occurredAt: hoursAgo(7), to }),
  accept: (batch: Batch, from: string): EventDoc => ({ kind: "HandOffAccepted", batch, occurredAt: hoursAgo(6), from }),
  split: (batch: Batch, children: { lot: string; value: number; unit?: string }[]): EventDoc => ({
    kind: "Split",
    batch,
    occurredAt: hoursAgo(5),
    children: children.map((c) => ({ gtin: batch.gtin, lot: c.lot, quantity: { value: c.value, unit: c.unit ?? "kg" } })),
  }),
  recalled: (batch: Batch): EventDoc => ({ kind: "Recalled", batch, occurredAt: hoursAgo(4), reason: "residue over limit" }),
};

/** What a refusal must leave untouched: the log's checkpoint and everything the relay has queued. */
async function snapshot(ledger: Ledger) {
  const { store } = ledger.services;
  const cp = await ledger.get("/v1/log/checkpoint");
  return {
    size: cp.json.size,
    root: cp.json.root,
    storeSize: await store.size(),
    relayCursor: await store.relayCursor(),
    relayPending: (await store.relayRows("pending")).length,
    relaySent: (await store.relayRows("sent")).length,
  };
}

interface Expected {
  readonly status: number;
  readonly code: string;
  readonly index?: number;
  readonly rule?: string;
  readonly role?: string;
}

type Response = { statusCode: number; json: Record<string, unknown> };

/** Runs `send`, checks the refusal's shape, and that nothing was stored or queued. */
async function expectRefusal(ledger: Ledger, send: () => Promise<Response>, expected: Expected): Promise<Record<string, unknown>> {
  const before = await snapshot(ledger);
  const res = await send();
  const body = JSON.stringify(res.json);
  expect(res.statusCode, body).to.equal(expected.status);
  expect(res.statusCode, body).to.be.within(400, 499);
  expect(res.json.statusCode, body).to.equal(expected.status);
  expect(res.json.code, body).to.equal(expected.code);
  expect(res.json.message, body).to.be.a("string").and.not.equal("");
  if (expected.index !== undefined) expect(res.json.index, body).to.equal(expected.index);
  if (expected.rule !== undefined) expect(res.json.rule, body).to.equal(expected.rule);
  if (expected.role !== undefined) expect(res.json.role, body).to.equal(expected.role);
  expect(await snapshot(ledger), `stored something after ${body}`).to.deep.equal(before);
  return res.json;
}

function refuses(ledger: Ledger, events: SignedEvent | readonly SignedEvent[] | unknown, expected: Expected) {
  return expectRefusal(ledger, () => ledger.post(events as SignedEvent[]), expected);
}

async function accepted(ledger: Ledger, events: SignedEvent | readonly SignedEvent[]): Promise<Record<string, unknown>[]> {
  const res = await ledger.post(events);
  expect(res.statusCode, JSON.stringify(res.json)).to.equal(202);
  return res.json.receipts as Record<string, unknown>[];
}

/** A well-formed but meaningless signature: for refusals decided before any signature is checked. */
const DUMMY_SIGNATURE = "0x" + "11".repeat(64) + "1b";

function unsigned(doc: unknown, signer: string): SignedEvent {
  return { doc, signer, nonce: "1", deadline: Math.floor(Date.now() / 1000) + 3600, signature: DUMMY_SIGNATURE } as SignedEvent;
}

forEachDriver("POST /v1/events refusals", function (driver) {
  this.timeout(120_000);
  let ledger: Ledger;
  const addr = (name: DemoActorName) => ledger.chain.actors[name].address;
  const sign = (name: DemoActorName, doc: EventDoc, options?: { nonce?: bigint; deadline?: number }) =>
    ledger.sign(name, doc, options);

  before(async function () {
    ledger = await startLedger({ driver: driver.name });
  });
  after(async function () {
    await ledger?.close();
  });

  describe("the document's shape (JSON Schema)", function () {
    it("refuses a document missing a required field with 400 SCHEMA_VIOLATION", async function () {
      const signed = await sign("cooperative", docs.registered(freshBatch()));
      const { product: _p, ...doc } = signed.doc as Extract<EventDoc, { kind: "Registered" }>;
      await refuses(ledger, { ...signed, doc }, { status: 400, code: "SCHEMA_VIOLATION" });
    });

    it("refuses an unknown extra field in a signed document (additionalProperties: false)", async function () {
      const signed = await sign("cooperative", docs.registered(freshBatch()));
      await refuses(ledger, { ...signed, doc: { ...signed.doc, organic: true } }, { status: 400, code: "SCHEMA_VIOLATION" });
      await refuses(ledger, { ...signed, extra: 1 }, { status: 400, code: "SCHEMA_VIOLATION" });
    });

    it("refuses wrong types, even where a value could be coerced to the right one", async function () {
      const signed = await sign("cooperative", docs.registered(freshBatch()));
      const doc = signed.doc as Extract<EventDoc, { kind: "Registered" }>;
      // Signed over the number 1200; the string "1200" is not what was signed, and no JSON number.
      await refuses(ledger, { ...signed, doc: { ...doc, quantity: { ...doc.quantity, value: "1200" } } }, { status: 400, code: "SCHEMA_VIOLATION" });
      await refuses(ledger, { ...signed, doc: { ...doc, imported: "false" } }, { status: 400, code: "SCHEMA_VIOLATION" });
      await refuses(ledger, { ...signed, deadline: String(signed.deadline) }, { status: 400, code: "SCHEMA_VIOLATION" });
      await refuses(ledger, { ...signed, doc: { ...doc, product: 42 } }, { status: 400, code: "SCHEMA_VIOLATION" });
      const lab = await sign("lab", docs.inspected(freshBatch(), 0, true));
      const inspected = lab.doc as Extract<EventDoc, { kind: "Inspected" }>;
      // One analyte object where an array is required.
      await refuses(ledger, { ...lab, doc: { ...inspected, analytes: inspected.analytes[0] } }, { status: 400, code: "SCHEMA_VIOLATION" });
    });

    it("refuses a GTIN that is not 14 digits and a lot outside GS1 character set 82", async function () {
      const doc = docs.registered({ gtin: "8801234000017", lot: "X" });
      await refuses(ledger, unsigned(doc, addr("cooperative")), { status: 400, code: "SCHEMA_VIOLATION" });
      const lot = docs.registered({ gtin: GTIN, lot: "bad lot#" });
      await refuses(ledger, unsigned(lot, addr("cooperative")), { status: 400, code: "SCHEMA_VIOLATION" });
    });

    it("refuses an empty array and a signature of the wrong length", async function () {
      await refuses(ledger, [], { status: 400, code: "SCHEMA_VIOLATION" });
      const signed = await sign("cooperative", docs.registered(freshBatch()));
      await refuses(ledger, { ...signed, signature: signed.signature.slice(0, -2) }, { status: 400, code: "SCHEMA_VIOLATION" });
    });
  });

  describe("identifiers and document consistency", function () {
    it("refuses a GTIN with a wrong check digit with 400 INVALID_IDENTIFIER", async function () {
      const doc = docs.registered({ gtin: "08801234000018", lot: "X1" });
      await refuses(ledger, unsigned(doc, addr("cooperative")), { status: 400, code: "INVALID_IDENTIFIER", index: 0 });
    });

    it("refuses an inspection that passed with an analyte over its limit with 422 DOC_INCONSISTENT", async function () {
      const doc = docs.inspected(freshBatch(), 0.5, true);
      const json = await refuses(ledger, unsigned(doc, addr("lab")), { status: 422, code: "DOC_INCONSISTENT", index: 0 });
      expect(json.message).to.match(/Chlorpyrifos/);
    });

    it("refuses a split whose children mix units with 422 DOC_INCONSISTENT", async function () {
      const batch = freshBatch();
      const doc = docs.split(batch, [
        { lot: `${batch.lot}a`, value: 600, unit: "kg" },
        { lot: `${batch.lot}b`, value: 600, unit: "box" },
      ]);
      await refuses(ledger, unsigned(doc, addr("cooperative")), { status: 422, code: "DOC_INCONSISTENT", index: 0 });
    });
  });

  describe("times before 1970 and addresses with a wrong checksum", function () {
    /** The address with one letter's case flipped: still mixed case, its EIP-55 checksum now wrong. */
    function badChecksum(address: string): string {
      const i = address.slice(2).search(/[a-fA-F]/) + 2;
      const c = address[i] as string;
      return address.slice(0, i) + (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase()) + address.slice(i + 1);
    }

    for (const time of ["1969-12-31T23:59:59Z", "1900-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "1970-01-01T00:59:59+01:00"]) {
      it(`refuses occurredAt ${time}, signed or not, with 400 SCHEMA_VIOLATION naming doc.occurredAt`, async function () {
        const batch = freshBatch();
        const doc = { ...docs.registered(batch), occurredAt: time } as EventDoc;
        const json = await refuses(ledger, unsigned(doc, addr("cooperative")), { status: 400, code: "SCHEMA_VIOLATION", index: 0 });
        expect(json.field).to.equal("doc.occurredAt");
        // A real signature over the same document with a later time, the time then changed: refused the same way.
        const signed = await sign("cooperative", docs.registered(batch));
        await refuses(ledger, { ...signed, doc: { ...signed.doc, occurredAt: time } }, { status: 400, code: "SCHEMA_VIOLATION", index: 0 });
        const observed = { kind: "Observed", batch, occurredAt: time, note: "x" } as EventDoc;
        await refuses(ledger, unsigned(observed, addr("cooperative")), { status: 400, code: "SCHEMA_VIOLATION", index: 0 });
      });
    }

    for (const date of ["1969-12-31", "1900-01-01", "0001-01-01"]) {
      it(`refuses harvestDate ${date} with 400 SCHEMA_VIOLATION naming doc.harvestDate`, async function () {
        const doc = docs.registered(freshBatch(), { harvestDate: date });
        const json = await refuses(ledger, unsigned(doc, addr("cooperative")), { status: 400, code: "SCHEMA_VIOLATION", index: 0 });
        expect(json.field).to.equal("doc.harvestDate");
        expect(json.message).to.include(date);
      });
    }

    it("accepts the first second of 1970 (the smallest time a uint64 holds)", async function () {
      const batch = freshBatch();
      await accepted(ledger, await sign("cooperative", docs.registered(batch, { occurredAt: "1970-01-01T00:00:00Z", harvestDate: "1970-01-01" })));
    });

    it("refuses a signer spelled with a wrong EIP-55 checksum with 400 INVALID_ADDRESS naming signer", async function () {
      const signed = await sign("cooperative", docs.registered(freshBatch()));
      const json = await refuses(ledger, { ...signed, signer: badChecksum(signed.signer) }, { status: 400, code: "INVALID_ADDRESS", index: 0 });
      expect(json.field).to.equal("signer");
    });

    it("refuses a hand-off to or from an address with a wrong checksum, naming the field", async function () {
      const batch = freshBatch();
      await accepted(ledger, await sign("cooperative", docs.registered(batch)));
      const offer = docs.offer(batch, badChecksum(addr("wholesaler")));
      const json = await refuses(ledger, unsigned(offer, addr("cooperative")), { status: 400, code: "INVALID_ADDRESS", index: 0 });
      expect(json.field).to.equal("doc.to");
      const accept = docs.accept(batch, badChecksum(addr("cooperative")));
      expect((await refuses(ledger, unsigned(accept, addr("wholesaler")), { status: 400, code: "INVALID_ADDRESS" })).field).to.equal("doc.from");
    });

    it("accepts addresses written all in lower case as the same actors", async function () {
      const batch = freshBatch();
      const register = await sign("cooperative", docs.registered(batch));
      await accepted(ledger, { ...register, signer: register.signer.toLowerCase() });
      const offer = await sign("cooperative", docs.offer(batch, addr("wholesaler").toLowerCase()));
      await accepted(ledger, { ...offer, signer: offer.signer.toLowerCase() });
      await accepted(ledger, await sign("wholesaler", docs.accept(batch, addr("cooperative").toLowerCase())));
    });

    it("refuses GET /v1/actors/{address} with a wrong checksum with 400 INVALID_ADDRESS", async function () {
      const res = await ledger.get(`/v1/actors/${badChecksum(addr("stall"))}`);
      expect(res.statusCode).to.equal(400);
      expect(res.json.code).to.equal("INVALID_ADDRESS");
      expect((await ledger.get(`/v1/actors/${addr("stall").toLowerCase()}`)).statusCode).to.equal(200);
    });
  });

  describe("the HTTP envelope", function () {
    it("refuses malformed JSON with 400", async function () {
      await expectRefusal(
        ledger,
        async () => {
          const res = await ledger.app.inject({
            method: "POST",
            url: "/v1/events",
            headers: { "content-type": "application/json" },
            payload: '{"doc": {"kind": "Registered",',
          });
          return { statusCode: res.statusCode, json: res.json() };
        },
        { status: 400, code: "MALFORMED_JSON" },
      );
    });

    it("refuses a body that is not JSON with 415", async function () {
      const signed = await sign("cooperative", docs.registered(freshBatch()));
      await expectRefusal(
        ledger,
        async () => {
          const res = await ledger.app.inject({
            method: "POST",
            url: "/v1/events",
            headers: { "content-type": "text/plain" },
            payload: JSON.stringify(signed),
          });
          return { statusCode: res.statusCode, json: res.json() };
        },
        { status: 415, code: "UNSUPPORTED_MEDIA_TYPE" },
      );
    });

    describe("with small limits (BODY_LIMIT=2048, MAX_EVENTS_PER_REQUEST=2)", function () {
      let small: Ledger;
      before(async function () {
        small = await startLedger({ chain: ledger.chain, driver: driver.name, env: { BODY_LIMIT: "2048", MAX_EVENTS_PER_REQUEST: "2" } });
      });
      after(async function () {
        await small?.close();
      });

      it("refuses a body over BODY_LIMIT with 413 BODY_TOO_LARGE", async function () {
        const doc = docs.registered(freshBatch(), { product: "x".repeat(120) });
        const signed = await signEvent(ledger.chain.actors.cooperative, ledger.chain.domain, doc);
        const payload = JSON.stringify([signed, signed, signed]);
        expect(Buffer.byteLength(payload)).to.be.greaterThan(2048);
        await expectRefusal(
          small,
          async () => {
            const res = await small.app.inject({ method: "POST", url: "/v1/events", headers: { "content-type": "application/json" }, payload });
            return { statusCode: res.statusCode, json: res.json() };
          },
          { status: 413, code: "BODY_TOO_LARGE" },
        );
      });

      it("refuses more than MAX_EVENTS_PER_REQUEST events with 413 TOO_MANY_EVENTS", async function () {
        const events = [unsigned({}, addr("cooperative")), unsigned({}, addr("cooperative")), unsigned({}, addr("cooperative"))];
        await refuses(small, events, { status: 413, code: "TOO_MANY_EVENTS" });
      });
    });
  });

  describe("signatures", function () {
    it("refuses an event signed by another key than its signer with 401 BAD_SIGNATURE", async function () {
      const signed = await sign("lab", docs.registered(freshBatch()));
      await refuses(ledger, { ...signed, signer: addr("cooperative") }, { status: 401, code: "BAD_SIGNATURE", index: 0 });
    });

    it("refuses a document changed after signing with 401 BAD_SIGNATURE", async function () {
      const signed = await sign("cooperative", docs.registered(freshBatch()));
      const tampered = { ...signed, doc: { ...signed.doc, product: "Imported tangerines" } as EventDoc };
      await refuses(ledger, tampered, { status: 401, code: "BAD_SIGNATURE", index: 0 });
    });

    it("refuses the high-s twin of a valid signature with 401 BAD_SIGNATURE", async function () {
      const signed = await sign("cooperative", docs.registered(freshBatch()));
      const r = signed.signature.slice(2, 66);
      const s = BigInt("0x" + signed.signature.slice(66, 130));
      const v = Number.parseInt(signed.signature.slice(130), 16);
      const twin = `0x${r}${(N - s).toString(16).padStart(64, "0")}${(v === 27 ? 28 : 27).toString(16)}`;
      await refuses(ledger, { ...signed, signature: twin }, { status: 401, code: "BAD_SIGNATURE", index: 0 });
      // The original is fine.
      await accepted(ledger, signed);
    });

    it("refuses v = 0 / 1 (the contract's ECDSA takes only 27 / 28) with 401 BAD_SIGNATURE", async function () {
      const signed = await sign("cooperative", docs.registered(freshBatch()));
      const v = Number.parseInt(signed.signature.slice(130), 16);
      const raw = `${signed.signature.slice(0, 130)}0${v - 27}`;
      await refuses(ledger, { ...signed, signature: raw }, { status: 401, code: "BAD_SIGNATURE", index: 0 });
    });

    it("refuses an expired deadline with 400 SIGNATURE_EXPIRED", async function () {
      const signed = await sign("cooperative", docs.registered(freshBatch()), { deadline: Math.floor(Date.now() / 1000) - 60 });
      await refuses(ledger, signed, { status: 400, code: "SIGNATURE_EXPIRED", index: 0 });
    });

    it("answers a logged event resubmitted after its deadline with its receipt, not SIGNATURE_EXPIRED", async function () {
      const deadline = Math.floor(Date.now() / 1000) + 2;
      const signed = await sign("cooperative", docs.registered(freshBatch()), { deadline });
      const [first] = await accepted(ledger, signed);
      await new Promise((r) => setTimeout(r, 3_100)); // the server's clock, not the chain's, judges deadlines
      const [again] = await accepted(ledger, signed);
      expect(again).to.include({ index: first!.index, duplicate: true });
    });
  });

  describe("roles", function () {
    it("refuses a lab registering a batch with 403 SIGNER_LACKS_ROLE naming PRODUCER", async function () {
      const signed = await sign("lab", docs.registered(freshBatch()));
      await refuses(ledger, signed, { status: 403, code: "SIGNER_LACKS_ROLE", index: 0, role: "PRODUCER" });
    });

    it("refuses a key with no role at all (an outsider)", async function () {
      const outsider = Wallet.createRandom();
      const signed = await signEvent(outsider, ledger.chain.domain, docs.registered(freshBatch()));
      await refuses(ledger, signed, { status: 403, code: "SIGNER_LACKS_ROLE", index: 0, role: "PRODUCER" });
      const batch = freshBatch();
      await accepted(ledger, await sign("cooperative", docs.registered(batch)));
      const observed = await signEvent(outsider, ledger.chain.domain, { kind: "Observed", batch, occurredAt: hoursAgo(1), note: "hello" });
      await refuses(ledger, observed, { status: 403, code: "SIGNER_LACKS_ROLE", index: 0 });
    });
  });

  describe("the ledger's rules", function () {
    it("refuses an event about an unknown batch with 404 UNKNOWN_BATCH", async function () {
      const signed = await sign("cooperative", docs.pesticide(freshBatch()));
      await refuses(ledger, signed, { status: 404, code: "UNKNOWN_BATCH", index: 0, rule: "UnknownBatch" });
    });

    it("refuses a hand-off offered by a non-custodian (NotCustodian)", async function () {
      const batch = freshBatch();
      await accepted(ledger, await sign("cooperative", docs.registered(batch)));
      const signed = await sign("wholesaler", docs.offer(batch, addr("stall")));
      await refuses(ledger, signed, { status: 409, code: "RULE_VIOLATION", index: 0, rule: "NotCustodian" });
    });

    it("refuses a retail hand-off of an imported batch before customs clearance (RetailBeforeClearance)", async function () {
      const batch = freshBatch(IMPORT_GTIN);
      await accepted(ledger, await sign("importer", docs.registered(batch, { imported: true, origin: { country: "AU", region: "NSW", farm: { name: "Riverina" } } })));
      const signed = await sign("importer", docs.offer(batch, addr("stall")));
      await refuses(ledger, signed, { status: 409, code: "RULE_VIOLATION", index: 0, rule: "RetailBeforeClearance" });
    });

    it("refuses an event on a recalled batch (BatchRecalled)", async function () {
      const batch = freshBatch();
      await accepted(ledger, [await sign("cooperative", docs.registered(batch)), await sign("regulator", docs.recalled(batch))]);
      const signed = await sign("cooperative", docs.offer(batch, addr("wholesaler")));
      await refuses(ledger, signed, { status: 409, code: "RULE_VIOLATION", index: 0, rule: "BatchRecalled" });
    });

    it("refuses a split whose children do not add up to the parent (QuantityNotConserved)", async function () {
      const batch = freshBatch();
      await accepted(ledger, await sign("cooperative", docs.registered(batch)));
      const signed = await sign("cooperative", docs.split(batch, [{ lot: `${batch.lot}a`, value: 100 }, { lot: `${batch.lot}b`, value: 100 }]));
      await refuses(ledger, signed, { status: 409, code: "RULE_VIOLATION", index: 0, rule: "QuantityNotConserved" });
    });

    it("refuses a nonce spent by another document with 409 NONCE_REUSED, pending or on chain", async function () {
      const batch = freshBatch();
      await accepted(ledger, await sign("cooperative", docs.registered(batch), { nonce: 777_001n }));
      const pending = await sign("cooperative", docs.pesticide(batch), { nonce: 777_001n });
      await refuses(ledger, pending, { status: 409, code: "NONCE_REUSED", index: 0, rule: "NonceAlreadyUsed" });
      await ledger.sync();
      const mined = await sign("cooperative", docs.pesticide(batch), { nonce: 777_001n });
      await refuses(ledger, mined, { status: 409, code: "NONCE_REUSED", index: 0, rule: "NonceAlreadyUsed" });
    });
  });

  describe("a request is logged whole or not at all", function () {
    it("stores none of a request's events when only its last one is bad, and the next request does not see them", async function () {
      const batch = freshBatch();
      const register = await sign("cooperative", docs.registered(batch));
      const pesticide = await sign("cooperative", docs.pesticide(batch));
      const bad = await sign("lab", docs.inspected(batch, 0, true));
      await refuses(ledger, [register, pesticide, { ...bad, signer: addr("cooperative") }], { status: 401, code: "BAD_SIGNATURE", index: 2 });
      await refuses(ledger, [register, pesticide, await sign("cooperative", docs.recalled(batch))], {
        status: 403,
        code: "SIGNER_LACKS_ROLE",
        index: 2,
        role: "REGULATOR",
      });
      // Neither the registration nor its nonce is pending now: the batch is unknown, and the same events go through.
      await refuses(ledger, pesticide, { status: 404, code: "UNKNOWN_BATCH", index: 0 });
      const receipts = await accepted(ledger, [register, pesticide, bad]);
      expect(receipts.map((r) => r.duplicate)).to.deep.equal([false, false, false]);
    });

    it("logs the same event twice in one request once, answering the copy with the first copy's receipt", async function () {
      const register = await sign("cooperative", docs.registered(freshBatch()));
      const before = await snapshot(ledger);
      const receipts = await accepted(ledger, [register, register]);
      expect(receipts.map((r) => r.duplicate)).to.deep.equal([false, true]);
      expect(receipts[1]?.index).to.equal(receipts[0]?.index);
      expect((await snapshot(ledger)).storeSize).to.equal(before.storeSize + 1);
    });

    it("answers a resubmitted event with 202 and its original receipt, storing nothing new", async function () {
      const batch = freshBatch();
      const register = await sign("cooperative", docs.registered(batch));
      const [first] = await accepted(ledger, register);
      const before = await snapshot(ledger);
      const [again] = await accepted(ledger, register);
      expect(again?.duplicate).to.equal(true);
      const { duplicate: _a, relay: _r1, ...firstRest } = first!;
      const { duplicate: _b, relay: _r2, ...againRest } = again!;
      expect(againRest).to.deep.equal(firstRest);
      expect(await snapshot(ledger)).to.deep.equal(before);
      // Also once it is on chain, and mixed with a new event in one request.
      await ledger.sync();
      const pesticide = await sign("cooperative", docs.pesticide(batch));
      const [dup, fresh] = await accepted(ledger, [register, pesticide]);
      expect(dup).to.include({ index: first!.index, duplicate: true, eventHash: first!.eventHash });
      expect(fresh).to.include({ duplicate: false, prevIndex: first!.index });
      expect((await snapshot(ledger)).size).to.equal((before.size as number) + 1);
    });
  });

  describe("a request naming many lots already on chain", function () {
    /** Relays and indexes everything queued, so no backlog is left to the tests after these. */
    async function drain(): Promise<void> {
      const { store } = ledger.services;
      while ((await store.relayRows("pending", 1)).length + (await store.relayRows("sent", 1)).length > 0) await ledger.sync();
      await ledger.sync();
    }

    /** `n` lots registered, relayed and indexed, and gone from the pending overlay. */
    async function indexedLots(n: number): Promise<Batch[]> {
      const batches = Array.from({ length: n }, () => freshBatch());
      await accepted(ledger, await Promise.all(batches.map((b) => sign("cooperative", docs.registered(b)))));
      await drain();
      await new Promise((r) => setTimeout(r, 300)); // past the ingestor's prune interval
      return batches;
    }

    afterEach(drain);

    it("admits 120 hand-offs of 120 indexed lots in one request (each lot read from the index, not one per round)", async function () {
      const batches = await indexedLots(120);
      const offers = await Promise.all(batches.map((b) => sign("cooperative", docs.offer(b, addr("wholesaler")))));
      const receipts = await accepted(ledger, offers);
      expect(receipts).to.have.length(120);
    });

    it("refuses such a request at its first refused event, though later ones are refused too", async function () {
      const batches = await indexedLots(120);
      const offers = await Promise.all(
        batches.map((b, i) => sign(i === 70 || i === 90 ? "wholesaler" : "cooperative", docs.offer(b, addr(i === 70 || i === 90 ? "stall" : "wholesaler")))),
      );
      await refuses(ledger, offers, { status: 409, code: "RULE_VIOLATION", index: 70, rule: "NotCustodian" });
    });
  });

  describe("the rule check sees accepted events not yet on chain", function () {
    it("accepts a registration and its pesticide in one request", async function () {
      const batch = freshBatch();
      const receipts = await accepted(ledger, [await sign("cooperative", docs.registered(batch)), await sign("cooperative", docs.pesticide(batch))]);
      expect(receipts[1]?.prevIndex).to.equal(receipts[0]?.index);
    });

    it("accepts them in two consecutive requests before any sync, and the chain confirms both", async function () {
      const batch = freshBatch();
      const [reg] = await accepted(ledger, await sign("cooperative", docs.registered(batch)));
      const [pest] = await accepted(ledger, await sign("cooperative", docs.pesticide(batch)));
      const [offer] = await accepted(ledger, await sign("cooperative", docs.offer(batch, addr("wholesaler"))));
      const [accept] = await accepted(ledger, await sign("wholesaler", docs.accept(batch, addr("cooperative"))));
      for (let i = 0; i < 4; i++) await ledger.sync();
      for (const r of [reg, pest, offer, accept]) {
        const now = await ledger.get(`/v1/events/${String(r!.eventHash)}`);
        expect((now.json.relay as { status: string }).status, JSON.stringify(now.json)).to.equal("confirmed");
      }
    });

    it("forgets a pending event the chain refused: what depended on it is judged without it", async function () {
      // A registration whose deadline passes before the relay sends it: logged (it was in time), then refused on chain.
      const batch = freshBatch();
      const deadline = Math.floor(Date.now() / 1000) + 5;
      await accepted(ledger, await sign("cooperative", docs.registered(batch), { deadline }));
      // While pending, the next request builds on it (and the overlay of pending events is kept for the one after).
      await accepted(ledger, await sign("cooperative", docs.pesticide(batch)));
      await networkHelpers.time.increase(120);
      // The relay alone (the index stays where it was): only the pending list itself tells the overlay to forget.
      await ledger.services.relay.syncOnce();
      await ledger.services.relay.syncOnce();
      const refused = await ledger.services.store.relayRows("refused");
      expect(refused.map((r) => r.error).join(" ")).to.match(/DeadlinePassed/);
      await new Promise((r) => setTimeout(r, 300)); // past the ingestor's prune interval
      await refuses(ledger, await sign("cooperative", docs.offer(batch, addr("wholesaler"))), { status: 404, code: "UNKNOWN_BATCH", index: 0 });
    });
  });
});
