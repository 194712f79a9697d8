/**
 * Load shedding (http/admission.ts): work beyond the admission bounds is refused at once with 503 OVERLOADED and
 * Retry-After and leaves nothing behind; health, metrics and cheap reads keep answering while the gates are full; a
 * client that has gone before its request was admitted gets nothing appended. The gates are filled by holding their
 * room from the test (the app's own gate objects), so no test depends on timing.
 */
import { expect } from "chai";
import { connect } from "node:net";
import type { AddressInfo } from "node:net";
import type { EventDoc, SignedEvent } from "../../../ledger-api/src/protocol/documents.ts";
import type { Ticket } from "../../../ledger-api/src/http/admission-gate.ts";
import { startLedger, type Ledger } from "../harness.ts";

const BATCH = { gtin: "08801234000017", lot: "LS-1" };

function registered(): EventDoc {
  return {
    kind: "Registered",
    batch: BATCH,
    occurredAt: "2026-11-01T08:00:00Z",
    product: "Jeju Hallabong tangerines",
    origin: { country: "KR", region: "Jeju-do", farm: { name: "Halla Orchard" } },
    harvestDate: "2026-10-30",
    quantity: { value: 100, unit: "kg" },
    imported: false,
  };
}

function observed(n: number): EventDoc {
  return { kind: "Observed", batch: BATCH, occurredAt: "2026-11-02T08:00:00Z", note: `reading ${n}` };
}

/** Resolves once `condition` holds, checking after each turn of the event loop (no clock involved). */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 100_000 && !condition(); i++) await new Promise((resolve) => setImmediate(resolve));
  if (!condition()) throw new Error("condition never held");
}

async function stored(ledger: Ledger, events: readonly SignedEvent[]): Promise<number> {
  const size = await ledger.services.store.size();
  let found = 0;
  for (let i = 0; i < size; i++) {
    const entry = await ledger.services.store.entry(i);
    const body = JSON.parse(entry?.body ?? "{}") as { signature?: string };
    if (events.some((e) => e.signature.toLowerCase() === body.signature?.toLowerCase())) found++;
  }
  return found;
}

/** Takes all the room a gate has, as long-running work would. */
async function fill(ledger: Ledger, gate: "ingest" | "queries"): Promise<Ticket> {
  const g = ledger.app.admission[gate];
  const ticket = g.reserve();
  await ticket.start(g.capacity);
  return ticket;
}

describe("load shedding", function () {
  let ledger: Ledger;
  let batchEvents: SignedEvent[];
  before(async function () {
    ledger = await startLedger({
      env: {
        MAX_EVENTS_PER_REQUEST: "10",
        INGEST_EVENTS_IN_FLIGHT: "10",
        INGEST_QUEUE: "1",
        QUERIES_IN_FLIGHT: "1",
        QUERIES_QUEUE: "0",
        ADMISSION_MAX_WAIT_MS: "600000",
      },
    });
    const res = await ledger.post(await ledger.sign("cooperative", registered()));
    expect(res.statusCode).to.equal(202);
    batchEvents = await Promise.all(Array.from({ length: 40 }, (_, i) => ledger.sign("stall", observed(i))));
  });
  after(async function () {
    await ledger?.close();
  });

  describe("ingest", function () {
    it("refuses a request beyond the queue at once with 503 OVERLOADED and Retry-After, and stores none of it", async function () {
      const held = await fill(ledger, "ingest");
      const waiting = ledger.post(batchEvents.slice(0, 10));
      await until(() => ledger.app.admission.ingest.stats().queued === 1);

      const refused = batchEvents.slice(10, 20);
      const res = await ledger.app.inject({ method: "POST", url: "/v1/events", payload: refused });
      expect(res.statusCode).to.equal(503);
      expect(res.json()).to.include({ code: "OVERLOADED", statusCode: 503 });
      expect(res.json().message).to.match(/ingest queue is full/);
      expect(Number(res.headers["retry-after"])).to.be.at.least(1);

      held.release();
      expect((await waiting).statusCode).to.equal(202);
      expect(await stored(ledger, refused)).to.equal(0);
      expect(await stored(ledger, batchEvents.slice(0, 10))).to.equal(10);
      expect(ledger.app.admission.ingest.stats()).to.include({ inFlight: 0, queued: 0 });
    });

    it("refuses a request that waited its whole bound for room, and stores none of it", async function () {
      const gate = ledger.app.admission.ingest;
      const held = await fill(ledger, "ingest");
      // A wait bound of zero: the request cannot start at once, so it is refused once its timer fires.
      const original = gate.maxWaitMs;
      (gate as { maxWaitMs: number }).maxWaitMs = 0;
      try {
        const events = batchEvents.slice(20, 25);
        const res = await ledger.app.inject({ method: "POST", url: "/v1/events", payload: events });
        expect(res.statusCode).to.equal(503);
        expect(res.json()).to.include({ code: "OVERLOADED" });
        expect(res.json().message).to.match(/could not start within 0 ms/);
        expect(res.headers["retry-after"]).to.equal("1");
        expect(await stored(ledger, events)).to.equal(0);
      } finally {
        (gate as { maxWaitMs: number }).maxWaitMs = original;
        held.release();
      }
    });

    it("gives the place back when a request is refused before its work starts (schema violation)", async function () {
      const res = await ledger.app.inject({ method: "POST", url: "/v1/events", payload: [{ doc: { kind: "Observed" } }] });
      expect(res.statusCode).to.equal(400);
      expect(ledger.app.admission.ingest.stats()).to.include({ inFlight: 0, queued: 0 });
    });

    it("appends nothing for a client that closed its connection before its request was admitted", async function () {
      const address = await ledger.app.listen({ host: "127.0.0.1", port: 0 });
      const { port } = new URL(address);
      const held = await fill(ledger, "ingest");
      const events = batchEvents.slice(25, 30);
      const body = JSON.stringify(events);
      const socket = connect({ host: "127.0.0.1", port: Number(port) });
      await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
      socket.write(
        `POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      await until(() => ledger.app.admission.ingest.stats().queued === 1);
      socket.destroy();
      // The server sees the connection close: the waiting request leaves the queue without running.
      await until(() => ledger.app.admission.ingest.stats().queued === 0);
      held.release();
      expect(await stored(ledger, events)).to.equal(0);
      expect(ledger.app.admission.ingest.stats()).to.include({ inFlight: 0, queued: 0 });
      expect((ledger.app.server.address() as AddressInfo).port).to.equal(Number(port));
    });
  });

  describe("while the gates are full", function () {
    let ingest: Ticket;
    let queries: Ticket;
    let queued: Promise<{ statusCode: number }>;
    before(async function () {
      ingest = await fill(ledger, "ingest");
      queries = await fill(ledger, "queries");
      queued = ledger.post(batchEvents.slice(30, 40));
      await until(() => ledger.app.admission.ingest.stats().queued === 1);
    });
    after(async function () {
      ingest.release();
      queries.release();
      expect((await queued).statusCode).to.equal(202);
    });

    it("answers /healthz with the gates' load", async function () {
      const res = await ledger.get("/healthz");
      expect(res.statusCode).to.equal(200);
      expect(res.json.status).to.equal("ok");
      expect(res.json.load).to.deep.include({
        ingest: { inFlight: 10, queued: 1, refused: (res.json.load as { ingest: { refused: number } }).ingest.refused },
      });
    });

    it("answers /metrics with each gate's work in flight and queue", async function () {
      const res = await ledger.app.inject({ method: "GET", url: "/metrics" });
      expect(res.statusCode).to.equal(200);
      expect(res.body).to.match(/^ledger_admission_in_flight\{gate="ingest"\} 10$/m);
      expect(res.body).to.match(/^ledger_admission_queued\{gate="ingest"\} 1$/m);
      expect(res.body).to.match(/^ledger_admission_in_flight\{gate="queries"\} 1$/m);
    });

    it("refuses every expensive query with 503 OVERLOADED: provenance, trace, shopper page, label and QR codes", async function () {
      const path = encodeURIComponent(`/01/${BATCH.gtin}/10/${BATCH.lot}`);
      for (const url of [
        `/v1/batches/${path}/provenance`,
        `/v1/batches/provenance?gtin=${BATCH.gtin}&lot=${BATCH.lot}`,
        `/v1/batches/${path}/trace`,
        `/01/${BATCH.gtin}/10/${BATCH.lot}`,
        `/v1/batches/${path}/label`,
        `/v1/batches/${path}/qr.svg`,
        `/v1/batches/${path}/qr.png`,
      ]) {
        const res = await ledger.app.inject({ method: "GET", url });
        expect(res.statusCode, url).to.equal(503);
        expect(res.json(), url).to.include({ code: "OVERLOADED" });
        expect(res.headers["retry-after"], url).to.equal("1");
      }
    });

    it("keeps answering the cheap reads while an expensive query holds every query slot", async function () {
      for (const url of ["/v1/log/checkpoint", "/v1/events/0", "/v1/chain", "/v1/anchors"]) {
        const res = await ledger.get(url);
        expect(res.statusCode, url).to.equal(200);
      }
    });
  });

  it("answers an expensive query again once its slot is free", async function () {
    const res = await ledger.get(`/v1/batches/provenance?gtin=${BATCH.gtin}&lot=${BATCH.lot}`);
    expect(res.statusCode).to.equal(200);
    expect(ledger.app.admission.queries.stats()).to.include({ inFlight: 0, queued: 0 });
  });
});

describe("load shedding under process pressure", function () {
  let ledger: Ledger;
  before(async function () {
    // A heap limit every process is past: under-pressure's next sample (once a second) puts the service under pressure.
    ledger = await startLedger({ env: { MAX_HEAP_MB: "1" } });
    for (let i = 0; i < 200 && !ledger.app.isUnderPressure(); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(ledger.app.isUnderPressure()).to.equal(true);
  });
  after(async function () {
    await ledger?.close();
  });

  it("refuses reads and submissions with 503 OVERLOADED and Retry-After, storing nothing", async function () {
    const size = await ledger.services.store.size();
    const submitted = await ledger.app.inject({ method: "POST", url: "/v1/events", payload: await ledger.sign("cooperative", registered()) });
    expect(submitted.statusCode).to.equal(503);
    expect(submitted.json()).to.include({ code: "OVERLOADED" });
    expect(submitted.json().message).to.match(/under pressure \(heapUsedBytes/);
    expect(submitted.headers["retry-after"]).to.equal("5");
    expect(await ledger.services.store.size()).to.equal(size);
    const read = await ledger.app.inject({ method: "GET", url: "/v1/log/checkpoint" });
    expect(read.statusCode).to.equal(503);
  });

  it("keeps answering /healthz and /metrics", async function () {
    expect((await ledger.get("/healthz")).statusCode).to.equal(200);
    expect((await ledger.app.inject({ method: "GET", url: "/metrics" })).statusCode).to.equal(200);
  });
});
