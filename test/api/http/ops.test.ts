/**
 * The service's operational surface: the OpenAPI document is generated from the routes' own schemas, /healthz
 * reports what an operator must know, /metrics is Prometheus text, unknown routes get the one error shape.
 */
import { expect } from "chai";
import { startLedger, type Ledger } from "../harness.ts";

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

  it("reports healthy with the chain head, index and anchor lag when everything is running", async function () {
    const res = await ledger.get("/healthz");
    expect(res.statusCode).to.equal(200);
    expect(res.json.status).to.equal("ok");
    expect((res.json.chain as { head: number }).head).to.be.a("number");
  });

  it("serves Prometheus metrics: log size, request durations, events by outcome", async function () {
    await ledger.post([{ doc: { kind: "Registered" } }] as never);
    const res = await ledger.app.inject({ method: "GET", url: "/metrics" });
    expect(res.statusCode).to.equal(200);
    expect(res.headers["content-type"]).to.match(/^text\/plain/);
    expect(res.body).to.match(/^ledger_log_size \d+$/m);
    expect(res.body).to.include("ledger_http_request_duration_seconds");
    expect(res.body).to.match(/^ledger_events_total\{outcome="refused:SCHEMA_VIOLATION"\} [1-9]/m);
  });

  it("answers an unknown route with 404 and the common error body", async function () {
    const res = await ledger.get("/v1/nope");
    expect(res.statusCode).to.equal(404);
    expect(res.json).to.include({ code: "NOT_FOUND" });
  });
});
