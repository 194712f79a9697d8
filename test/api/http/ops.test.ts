/**
 * The service's operational surface: the OpenAPI document is generated from the routes' own schemas, /healthz
 * reports what an operator must know (relay lag and a stuck relay included), /metrics is Prometheus text, unknown
 * routes get the one error shape.
 */
import { expect } from "chai";
import type { EventDoc } from "../../../ledger-api/src/protocol/documents.ts";
import { ethers, startLedger, type Ledger } from "../harness.ts";

describe("operations endpoints", function () {
  let ledger: Ledger;
  before(async function () {
    ledger = await startLedger();
  });
  after(async function () {
    await ledger?.close();
  });

  it("serves an OpenAPI 3.1 document that describes the ingest route with the signed-event schema", async function () {
    const res = await ledger.get("/docs/json");
    expect(res.statusCode).to.equal(200);
    expect(res.json.openapi).to.equal("3.1.0");
    const paths = res.json.paths as Record<string, Record<string, { requestBody?: unknown; tags?: string[] }>>;
    for (const path of ["/v1/events", "/v1/events/{id}", "/v1/log/checkpoint", "/v1/log/entries/{index}", "/v1/anchors", "/healthz"]) {
      expect(paths, path).to.have.property(path);
    }
    expect(JSON.stringify(paths["/v1/events"]?.post?.requestBody)).to.include("signature");
  });

  it("sends whoever opens the service's own address to the OpenAPI page", async function () {
    const res = await ledger.app.inject({ method: "GET", url: "/" });
    expect(res.statusCode).to.equal(302);
    expect(res.headers.location).to.equal("/docs");
    const docs = await ledger.app.inject({ method: "GET", url: "/docs" });
    expect(docs.statusCode, "the redirect's target").to.be.oneOf([200, 302]);
  });

  it("reports healthy with the chain head, index and anchor lag when everything is running", async function () {
    const res = await ledger.get("/healthz");
    expect(res.statusCode).to.equal(200);
    expect(res.json.status).to.equal("ok");
    expect((res.json.chain as { head: number }).head).to.be.a("number");
  });

  it("serves Prometheus metrics: log size, request durations, events by outcome, relay lag", async function () {
    await ledger.post([{ doc: { kind: "Registered" } }] as never);
    const res = await ledger.app.inject({ method: "GET", url: "/metrics" });
    expect(res.statusCode).to.equal(200);
    expect(res.headers["content-type"]).to.match(/^text\/plain/);
    expect(res.body).to.match(/^ledger_log_size \d+$/m);
    expect(res.body).to.include("ledger_http_request_duration_seconds");
    expect(res.body).to.match(/^ledger_events_total\{outcome="refused:SCHEMA_VIOLATION"\} [1-9]/m);
    expect(res.body).to.match(/^ledger_relay_rows\{status="pending"\} \d+$/m);
    expect(res.body).to.match(/^ledger_relay_oldest_waiting_seconds \d+(\.\d+)?$/m);
    expect(res.body).to.match(/^ledger_relay_stuck 0$/m);
  });

  it("answers an unknown route with 404 and the common error body", async function () {
    const res = await ledger.get("/v1/nope");
    expect(res.statusCode).to.equal(404);
    expect(res.json).to.include({ code: "NOT_FOUND" });
  });
});

describe("relay health", function () {
  this.timeout(60_000);
  let ledger: Ledger | undefined;
  afterEach(async function () {
    await ethers.provider.send("evm_setAutomine", [true]);
    await ledger?.close();
    ledger = undefined;
  });

  const registration = (lot: string): EventDoc => ({
    kind: "Registered",
    batch: { gtin: "08801234000017", lot },
    occurredAt: "2026-01-01T00:00:00Z",
    product: "Jeju Hallabong tangerines",
    origin: { country: "KR", region: "Jeju-do", farm: { name: "Orchard 3" } },
    harvestDate: "2025-12-30",
    quantity: { value: 100, unit: "kg" },
    imported: false,
  });

  async function health(l: Ledger): Promise<{ statusCode: number; problems: string[]; relay: Record<string, unknown> }> {
    const res = await l.get("/healthz");
    return { statusCode: res.statusCode, problems: res.json.problems as string[], relay: res.json.relay as Record<string, unknown> };
  }

  it("reports relay lag, and 503 when events wait and nothing was relayed for RELAY_STUCK_AFTER_MS", async function () {
    ledger = await startLedger({ env: { RELAY_STUCK_AFTER_MS: "1000" } });
    expect((await ledger.post(await ledger.sign("cooperative", registration("RH-1")))).statusCode).to.equal(202);
    const waiting = await health(ledger);
    expect(waiting.statusCode).to.equal(200);
    expect(waiting.relay).to.include({ unread: 1, pending: 0, sent: 0, stuck: null });
    // Nothing relays it (the workers are stepped by hand here): past the limit the relay counts as stuck.
    await new Promise((r) => setTimeout(r, 1200));
    const stuck = await health(ledger);
    expect(stuck.statusCode).to.equal(503);
    expect(stuck.problems.join("; ")).to.match(/relay stuck: nothing relayed for \d+ s while 1 entries wait/);
    expect(stuck.relay.oldestWaitingMs).to.be.at.least(1000);
    await ledger.sync();
    const relayed = await health(ledger);
    expect(relayed.statusCode, relayed.problems.join("; ")).to.equal(200);
    expect(relayed.relay).to.include({ unread: 0, pending: 0, sent: 0, oldestWaitingMs: 0 });
  });

  it("reports 503 for a nonce gap: the oldest sent transaction's nonce above the relayer's next nonce on chain", async function () {
    ledger = await startLedger();
    const beforeAny = (await ethers.provider.send("evm_snapshot", [])) as string;
    expect((await ledger.post(await ledger.sign("cooperative", registration("RH-2")))).statusCode).to.equal(202);
    await ledger.sync();
    await ethers.provider.send("evm_setAutomine", [false]);
    expect((await ledger.post(await ledger.sign("cooperative", registration("RH-3")))).statusCode).to.equal(202);
    await ledger.services.relay.syncOnce(); // sent, not mined
    expect((await health(ledger)).relay).to.include({ sent: 1 });
    // The chain loses the first transaction (and with it the relayer's nonce): the second can never be mined.
    await ethers.provider.send("evm_revert", [beforeAny]);
    const gap = await health(ledger);
    expect(gap.statusCode).to.equal(503);
    expect(gap.problems.join("; ")).to.match(/relay stuck: nonce gap: the oldest sent transaction has nonce 1, the relayer's next nonce on chain is 0/);
  });
});
