/**
 * Load shedding (http/admission.ts): work beyond the admission bounds is refused at once with 503 OVERLOADED and
 * Retry-After and leaves nothing behind; health, metrics and cheap reads keep answering while the gates are full; a
 * client that has gone before its request was admitted gets nothing appended. The first tests fill the gates by
 * holding their room from the test (the app's own gate objects); the last ones fill them with real work: answers
 * built from the store and requests arriving together on real sockets. No test depends on timing: they count turns
 * of the event loop and what the gates hold.
 */
import { expect } from "chai";
import { connect, type Socket } from "node:net";
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
        BODY_LIMIT: "65536",
        INGEST_BYTES_IN_FLIGHT: "65536",
        INGEST_QUEUE: "1",
        QUERIES_IN_FLIGHT: "1",
        QUERIES_QUEUE: "0",
        ADMISSION_MAX_WAIT_MS: "600000",
      },
    });
    const res = await ledger.post(await ledger.sign("cooperative", registered()));
    expect(res.statusCode).to.equal(202);
    batchEvents = await Promise.all(Array.from({ length: 50 }, (_, i) => ledger.sign("cooperative", observed(i))));
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

    it("weighs an upload by its bytes: one that does not fit beside the work in progress waits for it", async function () {
      const gate = ledger.app.admission.ingest;
      // Work in progress holding all the room but a kilobyte; a 10-event upload is several.
      const held = gate.reserve();
      await held.start(gate.capacity - 1024);
      const events = batchEvents.slice(40, 50);
      const waiting = ledger.post(events);
      try {
        await until(() => gate.stats().waiting === 1);
        expect(await stored(ledger, events)).to.equal(0);
      } finally {
        held.release();
      }
      expect((await waiting).statusCode).to.equal(202);
      expect(await stored(ledger, events)).to.equal(10);
      expect(gate.stats()).to.include({ inFlight: 0, queued: 0 });
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
        ingest: {
          inFlight: ledger.app.admission.ingest.capacity,
          queued: 1,
          waiting: 1,
          refused: (res.json.load as { ingest: { refused: number } }).ingest.refused,
        },
      });
    });

    it("answers /metrics with each gate's work in flight and queue", async function () {
      const res = await ledger.app.inject({ method: "GET", url: "/metrics" });
      expect(res.statusCode).to.equal(200);
      expect(res.body).to.match(new RegExp(`^ledger_admission_in_flight\\{gate="ingest"\\} ${ledger.app.admission.ingest.capacity}$`, "m"));
      expect(res.body).to.match(/^ledger_admission_queued\{gate="ingest"\} 1$/m);
      expect(res.body).to.match(/^ledger_admission_in_flight\{gate="queries"\} 1$/m);
    });

    it("refuses every expensive query with 503 OVERLOADED: provenance, trace, shopper page, label, QR codes, EPCIS history and query, recall reach, market and stall views", async function () {
      const path = encodeURIComponent(`/01/${BATCH.gtin}/10/${BATCH.lot}`);
      const stall = ledger.chain.actors.stall.address;
      for (const url of [
        `/v1/batches/${path}/provenance`,
        `/v1/batches/provenance?gtin=${BATCH.gtin}&lot=${BATCH.lot}`,
        `/v1/batches/${path}/trace`,
        `/01/${BATCH.gtin}/10/${BATCH.lot}`,
        `/v1/batches/${path}/label`,
        `/v1/batches/${path}/qr.svg`,
        `/v1/batches/${path}/qr.png`,
        `/v1/batches/${path}/epcis`,
        `/epcis/events`,
        `/v1/recalls/${path}/reach`,
        `/v1/recalls/reach?gtin=${BATCH.gtin}&lot=${BATCH.lot}`,
        `/v1/market`,
        `/v1/market/lots`,
        `/v1/market/stalls/${stall}`,
        `/v1/stalls/${stall}/display`,
        `/market`,
        `/stalls/${stall}/display`,
      ]) {
        const res = await ledger.app.inject({ method: "GET", url });
        expect(res.statusCode, url).to.equal(503);
        // EPCIS answers in problem details, with the same code.
        const body = res.json() as { code?: string; type?: string };
        expect(body.code ?? body.type, url).to.match(/OVERLOADED/i);
        expect(res.headers["retry-after"], url).to.equal("1");
      }
    });

    it("refuses an EPCIS capture, which goes through the ingest gate like POST /v1/events, and stores nothing", async function () {
      const size = await ledger.services.store.size();
      const res = await ledger.app.inject({
        method: "POST",
        url: "/epcis/capture",
        headers: { "content-type": "application/ld+json" },
        payload: { type: "EPCISDocument", epcisBody: { eventList: [] } },
      });
      expect(res.statusCode).to.equal(503);
      expect(res.headers["retry-after"]).to.equal("1");
      expect(await ledger.services.store.size()).to.equal(size);
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

/**
 * The gates with real work in them: answers built from the store, requests on real sockets. The work behind the
 * queries gate is mostly synchronous (SQLite reads), so what matters is what the event loop does between two pieces
 * of it, not how long anything takes: nothing here depends on timing.
 */
describe("load shedding of real work", function () {
  let ledger: Ledger;
  let port: number;
  const BIG = { gtin: "08801234000017", lot: "LS-BIG" };
  /** Enough entries that building the answer takes several turns of the event loop (query/provenance.ts TURN). */
  const BIG_ENTRIES = 600;
  before(async function () {
    ledger = await startLedger({
      env: { QUERIES_IN_FLIGHT: "1", QUERIES_QUEUE: "1", INGEST_QUEUE: "2", ADMISSION_MAX_WAIT_MS: "600000" },
    });
    for (const batch of [BATCH, BIG]) {
      const res = await ledger.post(await ledger.sign("cooperative", { ...registered(), batch }));
      expect(res.statusCode, JSON.stringify(res.json)).to.equal(202);
    }
    const readings = await Promise.all(
      Array.from({ length: BIG_ENTRIES }, (_, i) => ledger.sign("cooperative", { ...observed(i), batch: BIG })),
    );
    for (let i = 0; i < readings.length; i += 500) {
      const res = await ledger.post(readings.slice(i, i + 500));
      expect(res.statusCode, JSON.stringify(res.json)).to.equal(202);
    }
    const address = await ledger.app.listen({ host: "127.0.0.1", port: 0 });
    port = Number(new URL(address).port);
  });
  after(async function () {
    await ledger?.close();
  });
  // A test that fails half-way leaves its connections open: closed here, so the server can close.
  const open: Socket[] = [];
  afterEach(function () {
    for (const socket of open.splice(0)) socket.destroy();
  });

  /** Connections to the server, resolved once the server has accepted every one of them. */
  async function connections(n: number): Promise<Socket[]> {
    let accepted = 0;
    const onConnection = () => accepted++;
    ledger.app.server.on("connection", onConnection);
    try {
      const sockets = await Promise.all(
        Array.from(
          { length: n },
          () =>
            new Promise<Socket>((resolve, reject) => {
              const socket = connect({ host: "127.0.0.1", port });
              socket.once("connect", () => resolve(socket)).once("error", reject);
            }),
        ),
      );
      open.push(...sockets);
      await until(() => accepted === n);
      return sockets;
    } finally {
      ledger.app.server.off("connection", onConnection);
    }
  }

  /** The status and Retry-After of the response a socket receives before the server closes it. */
  function response(socket: Socket): Promise<{ status: number; retryAfter: string | undefined }> {
    return new Promise((resolve) => {
      let text = "";
      const done = () =>
        resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]), retryAfter: /^retry-after: *(\S+)/im.exec(text)?.[1] });
      // A refused upload is closed under the client's feet: the rest of its body meets a reset, which is expected.
      socket.setEncoding("latin1").on("data", (chunk: string) => (text += chunk)).once("close", done).on("error", () => undefined);
    });
  }

  /**
   * Sends one GET per path, each on its own connection, all written in the same turn of the event loop once the
   * server has accepted every connection: the server finds them all waiting in its sockets at once, as it does when
   * many clients arrive together. Resolves to each response's status and Retry-After.
   */
  async function together(paths: readonly string[]): Promise<{ status: number; retryAfter: string | undefined }[]> {
    const sockets = await connections(paths.length);
    const answers = sockets.map(response);
    sockets.forEach((socket, i) => socket.write(`GET ${paths[i]} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`));
    return Promise.all(answers);
  }

  it("refuses at once, with 503 and Retry-After, the queries that arrive together beyond the gate's slot and queue", async function () {
    const path = `/v1/batches/provenance?gtin=${BATCH.gtin}&lot=${BATCH.lot}`;
    const answers = await together(Array.from({ length: 12 }, () => path));
    // One slot and one queue place: the first two are answered; the ten the gate had no room for are refused, not
    // served one after another while their clients wait.
    expect(answers.filter((a) => a.status === 200)).to.have.length(2);
    expect(answers.filter((a) => a.status === 503 && a.retryAfter === "1")).to.have.length(10);
    expect(ledger.app.admission.queries.stats()).to.include({ inFlight: 0, queued: 0 });
  });

  it("refuses uploads beyond the ingest queue before reading their bodies, when they arrive together with nothing running", async function () {
    const gate = ledger.app.admission.ingest;
    const events = await Promise.all(Array.from({ length: 6 }, (_, i) => ledger.sign("cooperative", observed(1000 + i))));
    const bodies = events.map((e) => JSON.stringify([e]));
    const sockets = await connections(bodies.length);
    const answers = sockets.map(response);
    const { refused } = gate.stats();
    // Headers only: every request asks for a place before a byte of its body has arrived.
    sockets.forEach((socket, i) =>
      socket.write(
        `POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(bodies[i] as string)}\r\nConnection: close\r\n\r\n`,
      ),
    );
    // Two queue places, and one more while the gate has room and nobody waits: the other three are refused now.
    await until(() => gate.stats().refused === refused + 3);
    expect(gate.stats().queued).to.equal(3);
    sockets.forEach((socket, i) => socket.write(bodies[i] as string));
    const statuses = await Promise.all(answers);
    expect(statuses.map((a) => a.status).sort()).to.deep.equal([202, 202, 202, 503, 503, 503]);
    expect(statuses.filter((a) => a.status === 503).every((a) => a.retryAfter === "1")).to.equal(true);
    expect(await stored(ledger, events)).to.equal(3);
    expect(gate.stats()).to.include({ inFlight: 0, queued: 0 });
  });

  it("answers a cheap read while an expensive answer is being built, before that answer is done", async function () {
    const gate = ledger.app.admission.queries;
    let done = false;
    const expensive = ledger.app
      .inject({ method: "GET", url: `/v1/batches/provenance?gtin=${BIG.gtin}&lot=${BIG.lot}` })
      .finally(() => (done = true));
    await until(() => gate.stats().inFlight === 1);
    // A few more turns: the admitted work has started (a start waits one turn) and is under way.
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(done, "the expensive answer was built in one go, holding the event loop").to.equal(false);

    const cheap = await ledger.get("/v1/log/checkpoint");
    expect(cheap.statusCode).to.equal(200);
    expect(done, "the cheap read waited for the expensive answer").to.equal(false);
    expect(gate.stats().inFlight).to.equal(1);

    const res = await expensive;
    expect(res.statusCode).to.equal(200);
    expect((res.json() as { timeline: unknown[] }).timeline).to.have.length(BIG_ENTRIES + 1);
  });

  it("refuses a second expensive query at once while the first holds the only slot and the queue is taken", async function () {
    const gate = ledger.app.admission.queries;
    const url = `/v1/batches/provenance?gtin=${BIG.gtin}&lot=${BIG.lot}`;
    let done = false;
    const first = ledger.app.inject({ method: "GET", url }).finally(() => (done = true));
    const second = ledger.app.inject({ method: "GET", url });
    await until(() => gate.stats().inFlight === 1 && gate.stats().queued === 1);
    const third = await ledger.app.inject({ method: "GET", url });
    expect(third.statusCode).to.equal(503);
    expect(third.json()).to.include({ code: "OVERLOADED" });
    expect(third.headers["retry-after"]).to.equal("1");
    expect(done, "the refusal waited for the answer in progress").to.equal(false);
    expect((await first).statusCode).to.equal(200);
    expect((await second).statusCode).to.equal(200);
  });
});
