/**
 * One table of refusal codes (http/errors.ts ERROR_CODES), and the README's copy of it. Refusals that used to escape
 * it (Fastify's router and content parsers, @fastify/compress, the resolver's 406, and Node's HTTP parser, which
 * answered 400 / 431 with no code) carry a code of the table with its status. A client that promises more than it
 * sends, or never finishes its headers, or idles on a keep-alive connection, is cut off (small timeouts here).
 */
import { expect } from "chai";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import type { AddressInfo } from "node:net";
import { ERROR_CODES, isErrorCode, readmeWithErrorCodes } from "../../../ledger-api/src/http/errors.ts";
import { startLedger, type Ledger } from "../harness.ts";

/** The response's body is the common error body with a code of the table, at that code's status. */
function expectTableRefusal(status: number, body: string, code: string): void {
  const json = JSON.parse(body) as { statusCode: number; code: string; message: string };
  expect(json.code, body).to.equal(code);
  expect(isErrorCode(json.code), body).to.equal(true);
  expect(status, body).to.equal(ERROR_CODES[json.code as keyof typeof ERROR_CODES].status);
  expect(json.statusCode, body).to.equal(status);
  expect(json.message, body).to.be.a("string").and.not.equal("");
}

interface RawExchange {
  /** Everything the server wrote before closing the connection. */
  readonly response: string;
}

/**
 * Writes `chunks` to a fresh connection (without ever ending our side) and resolves with what the server wrote once
 * it closes the connection. Only the server can end this exchange, so a server that never does fails the test by its
 * timeout.
 */
function rawExchange(port: number, chunks: readonly string[]): Promise<RawExchange> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let response = "";
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => (response += d));
    socket.on("error", (err: NodeJS.ErrnoException) => (err.code === "ECONNRESET" ? undefined : reject(err)));
    socket.on("close", () => resolve({ response }));
    socket.on("connect", () => {
      for (const chunk of chunks) socket.write(chunk);
    });
  });
}

function statusAndBody(raw: string): { status: number; body: string } {
  const [head = "", ...rest] = raw.split("\r\n\r\n");
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
  return { status, body: rest.join("\r\n\r\n") };
}

describe("refusal codes", function () {
  this.timeout(60_000);
  let ledger: Ledger;
  before(async function () {
    ledger = await startLedger({ env: { REQUEST_TIMEOUT_MS: "600", HEADERS_TIMEOUT_MS: "300", KEEP_ALIVE_TIMEOUT_MS: "300" } });
  });
  after(async function () {
    await ledger?.close();
  });

  it("lists in the README exactly the table of http/errors.ts", function () {
    const readme = readFileSync(new URL("../../../README.md", import.meta.url), "utf8");
    expect(readmeWithErrorCodes(readme) === readme, "README.md differs from ERROR_CODES: run node scripts/error-codes.ts").to.equal(true);
  });

  describe("refusals of Fastify, its plugins and the resolver", function () {
    it("answers a bad percent-escape in the path with 400 MALFORMED_REQUEST (was FST_ERR_BAD_URL)", async function () {
      const res = await ledger.app.inject({ method: "GET", url: "/v1/batches/%E0%A4%A/provenance" });
      expectTableRefusal(res.statusCode, res.body, "MALFORMED_REQUEST");
    });

    it("answers a compressed body that does not decompress with 400 MALFORMED_REQUEST (was FST_CP_ERR_INVALID_CONTENT)", async function () {
      const res = await ledger.app.inject({
        method: "POST",
        url: "/v1/events",
        headers: { "content-type": "application/json", "content-encoding": "gzip" },
        payload: Buffer.from("this is not gzip"),
      });
      expectTableRefusal(res.statusCode, res.body, "MALFORMED_REQUEST");
    });

    it("answers a Content-Encoding the server does not decompress with 415 UNSUPPORTED_MEDIA_TYPE", async function () {
      const res = await ledger.app.inject({
        method: "POST",
        url: "/v1/events",
        headers: { "content-type": "application/json", "content-encoding": "x-unknown" },
        payload: "[]",
      });
      expectTableRefusal(res.statusCode, res.body, "UNSUPPORTED_MEDIA_TYPE");
    });

    it("answers the resolver's Accept it cannot serve with 406 NOT_ACCEPTABLE, a row of the table", async function () {
      const res = await ledger.app.inject({ method: "GET", url: "/01/08801234000017/10/JJ-1", headers: { accept: "image/png" } });
      expectTableRefusal(res.statusCode, res.body, "NOT_ACCEPTABLE");
    });

    it("answers a query number that coerces to Infinity (1e309) with 400 SCHEMA_VIOLATION naming it, not a 500", async function () {
      for (const url of ["/v1/anchors?limit=1e309", "/v1/anchors?before=1e309", "/v1/log/entries/1e309"]) {
        const res = await ledger.app.inject({ method: "GET", url });
        expectTableRefusal(res.statusCode, res.body, "SCHEMA_VIOLATION");
        expect(res.json().message, url).to.match(/must be a finite number/);
      }
    });

    it("answers more events than MAX_EVENTS_PER_REQUEST with 413 TOO_MANY_EVENTS, a row of the table", async function () {
      const res = await ledger.app.inject({ method: "POST", url: "/v1/events", payload: new Array(501).fill({}) });
      expectTableRefusal(res.statusCode, res.body, "TOO_MANY_EVENTS");
    });
  });

  describe("refusals of Node's HTTP parser, on a real connection", function () {
    let port: number;
    before(async function () {
      await ledger.app.listen({ host: "127.0.0.1", port: 0 });
      port = (ledger.app.server.address() as AddressInfo).port;
    });

    it("answers a malformed request line with 400 MALFORMED_REQUEST and closes the connection", async function () {
      const { response } = await rawExchange(port, ["GET /healthz HTTP/1.1 extra\r\nHost: x\r\n\r\n"]);
      const { status, body } = statusAndBody(response);
      expectTableRefusal(status, body, "MALFORMED_REQUEST");
    });

    it("answers headers over Node's size limit with 431 HEADERS_TOO_LARGE (was no code at all)", async function () {
      const { response } = await rawExchange(port, [`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`]);
      const { status, body } = statusAndBody(response);
      expectTableRefusal(status, body, "HEADERS_TOO_LARGE");
    });

    it("cuts off a client whose body never arrives (Content-Length promises more than it sends) with 408 REQUEST_TIMEOUT", async function () {
      const { response } = await rawExchange(port, [
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n",
        '[{"doc": ',
      ]);
      const { status, body } = statusAndBody(response);
      expectTableRefusal(status, body, "REQUEST_TIMEOUT");
    });

    it("cuts off a client that never finishes its headers with 408 REQUEST_TIMEOUT", async function () {
      const { response } = await rawExchange(port, ["GET /healthz HTTP/1.1\r\nHost: x\r\n"]);
      const { status, body } = statusAndBody(response);
      expectTableRefusal(status, body, "REQUEST_TIMEOUT");
    });

    it("closes an idle keep-alive connection after its last answer", async function () {
      const { response } = await rawExchange(port, ["GET /v1/chain HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n"]);
      expect(statusAndBody(response).status).to.equal(200);
    });
  });
});
