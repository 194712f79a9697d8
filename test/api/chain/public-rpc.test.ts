/**
 * POST /rpc, the read-only JSON-RPC window phones verify through (chain/public-rpc.ts), over Hardhat's in-process chain
 * with the demo story on it: the reads the verifier needs pass, everything else is refused per call with a JSON-RPC
 * error, and the verifier reading through it (batched by httpRpc, or one call at a time) reaches the same verdict as
 * reading the chain directly.
 */
import { expect } from "chai";
import { Interface } from "ethers";
import { abiOf } from "../../../ledger-api/src/chain/contracts.ts";
import Fastify from "fastify";
import { MAX_BATCH, publicRpcRoutes } from "../../../ledger-api/src/chain/public-rpc.ts";
import errorHandler from "../../../ledger-api/src/http/error-handler.ts";
import { demoBatches } from "../../../ledger-api/src/demo/story.ts";
import type { Provenance } from "../../../ledger-api/src/protocol/answer.ts";
import { httpRpc, providerReader, rpcReader, verifyProvenance } from "../../../ledger-api/src/verify/verify.ts";
import { ethers, startLedger, type Ledger } from "../harness.ts";

type RpcReply = { jsonrpc: string; id: unknown; result?: unknown; error?: { code: number; message: string } };

describe("POST /rpc: the read-only chain window for verifiers", function () {
  let ledger: Ledger;
  const ledgerAbi = new Interface(abiOf("ProvenanceLedger"));

  async function rpc(body: unknown): Promise<{ statusCode: number; json: unknown }> {
    const res = await ledger.app.inject({ method: "POST", url: "/rpc", payload: body as object });
    return { statusCode: res.statusCode, json: res.json() };
  }
  async function call(method: string, params: unknown[] = []): Promise<RpcReply> {
    const res = await rpc({ jsonrpc: "2.0", id: 7, method, params });
    expect(res.statusCode, JSON.stringify(res.json)).to.equal(200);
    return res.json as RpcReply;
  }
  /** fetch, answered by the app in process: what a phone's fetch to /rpc does, minus the network. */
  function appFetch(options: { batching: boolean; posts: unknown[] }): typeof fetch {
    return (async (_url: string | URL | Request, init?: RequestInit) => {
      const body = JSON.parse(String(init?.body)) as unknown;
      options.posts.push(body);
      if (Array.isArray(body) && !options.batching) {
        // Nodes refuse batches in both ways: an error object, or an HTTP error.
        return options.posts.length % 2 === 0
          ? Response.json({ jsonrpc: "2.0", id: null, error: { code: -32600, message: "batches are not supported" } })
          : new Response("batch too large", { status: 413 });
      }
      const res = await rpc(body);
      return Response.json(res.json, { status: res.statusCode });
    }) as typeof fetch;
  }

  before(async function () {
    ledger = await startLedger();
    await ledger.playDemoStory();
    await ledger.services.anchorer.anchorNow();
    await ledger.sync();
  });
  after(async function () {
    await ledger?.close();
  });

  it("answers the chain id, the block number and a receipt as the node does", async function () {
    expect((await call("eth_chainId")).result).to.equal(await ethers.provider.send("eth_chainId", []));
    expect((await call("eth_blockNumber")).result).to.equal(await ethers.provider.send("eth_blockNumber", []));
    const answer = (await ledger.get(`/v1/batches/${encodeURIComponent(`/01/${demoBatches.beef.gtin}/10/${demoBatches.beef.lot}`)}/provenance`))
      .json as unknown as Provenance;
    const txHash = answer.timeline.find((t) => t.chain?.txHash)?.chain?.txHash;
    expect(txHash).to.be.a("string");
    const receipt = (await call("eth_getTransactionReceipt", [txHash])).result as { transactionHash: string; status: string };
    expect(receipt.transactionHash).to.equal(txHash);
    expect(receipt.status).to.equal("0x1");
  });

  it("serves eth_call to the ledger and the log anchor, at a block", async function () {
    const data = ledgerAbi.encodeFunctionData("domainSeparator");
    const { ledger: address, anchor } = ledger.chain.deployments;
    const reply = await call("eth_call", [{ to: address, data }, "latest"]);
    expect(reply.result).to.equal(await ethers.provider.call({ to: address, data }));
    const count = new Interface(abiOf("LogAnchor")).encodeFunctionData("anchorCount");
    expect((await call("eth_call", [{ to: anchor, data: count }, await ethers.provider.send("eth_blockNumber", [])])).result).to.match(/^0x0*1$/);
  });

  it("refuses, per call, what a verifier does not need: writes, admin methods, other contracts, extra fields", async function () {
    const data = ledgerAbi.encodeFunctionData("domainSeparator");
    for (const method of ["eth_sendTransaction", "eth_sendRawTransaction", "anvil_reset", "hardhat_reset", "evm_revert", "eth_getBalance", "eth_accounts"]) {
      const reply = await call(method, []);
      expect(reply.error?.code, method).to.equal(-32601);
      expect(reply.id).to.equal(7);
    }
    const other = await call("eth_call", [{ to: ledger.chain.relayer.address, data }, "latest"]);
    expect(other.error).to.deep.include({ code: -32602 });
    const from = await call("eth_call", [{ to: ledger.chain.deployments.ledger, data, from: ledger.chain.relayer.address }, "latest"]);
    expect(from.error).to.deep.include({ code: -32602 });
    const tag = await call("eth_call", [{ to: ledger.chain.deployments.ledger, data }, "pending; drop table"]);
    expect(tag.error).to.deep.include({ code: -32602 });
    expect((await call("eth_getTransactionReceipt", ["0x12"])).error).to.deep.include({ code: -32602 });
  });

  it("answers a batch call by call, in order, refusals in their slots", async function () {
    const res = await rpc([
      { jsonrpc: "2.0", id: 1, method: "eth_chainId" },
      { jsonrpc: "2.0", id: "two", method: "anvil_reset", params: [] },
      { jsonrpc: "2.0", id: 3, method: "eth_blockNumber", params: [] },
    ]);
    expect(res.statusCode).to.equal(200);
    const replies = res.json as RpcReply[];
    expect(replies.map((r) => r.id)).to.deep.equal([1, "two", 3]);
    expect(replies[0]!.result).to.be.a("string");
    expect(replies[1]!.error?.code).to.equal(-32601);
    expect(replies[2]!.result).to.be.a("string");
  });

  it("refuses what is not JSON-RPC 2.0, or a batch over the limit, with the API's 400", async function () {
    for (const body of [{ id: 1, method: "eth_chainId" }, [], Array.from({ length: MAX_BATCH + 1 }, (_, id) => ({ jsonrpc: "2.0", id, method: "eth_chainId" }))]) {
      const res = await rpc(body);
      expect(res.statusCode).to.equal(400);
      expect((res.json as { code: string }).code).to.equal("SCHEMA_VIOLATION");
    }
  });

  it("takes a request as sent: an id that is not an integer, a string or null is a 400, not coerced (was a 500)", async function () {
    for (const id of [["a"], [1], true, {}]) {
      const res = await rpc({ jsonrpc: "2.0", id, method: "eth_chainId" });
      expect(res.statusCode, JSON.stringify(id)).to.equal(400);
      expect((res.json as { code: string }).code).to.equal("SCHEMA_VIOLATION");
    }
    expect((await rpc({ jsonrpc: "2.0", id: "7", method: "eth_chainId" })).json).to.include({ id: "7" });
  });

  it("lets the verifier reach the same verdict through it as from the node, batched or one call at a time", async function () {
    const keys = demoBatches.tangerineStallLots[0]!;
    const answer = (await ledger.get(`/v1/batches/${encodeURIComponent(`/01/${keys.gtin}/10/${keys.lot}`)}/provenance`)).json as unknown as Provenance;
    const { chainId, ledger: l, anchor } = ledger.chain.deployments;
    const trust = { chainId, ledger: l, anchor };
    const direct = await verifyProvenance(answer, providerReader(ethers.provider), { trust });
    expect(direct.status).to.equal("verified");

    const batched = { batching: true, posts: [] as unknown[] };
    const viaBatches = await verifyProvenance(answer, rpcReader(httpRpc("http://ledger.test/rpc", appFetch(batched))), { trust });
    expect(viaBatches).to.deep.equal(direct);
    const calls = batched.posts.reduce<number>((n, p) => n + (Array.isArray(p) ? p.length : 1), 0);
    // The calls of a verification travel in a handful of HTTP requests, not one each.
    expect(batched.posts.length).to.be.below(10);
    expect(calls).to.be.above(batched.posts.length * 2);

    const single = { batching: false, posts: [] as unknown[] };
    const viaSingles = await verifyProvenance(answer, rpcReader(httpRpc("http://ledger.test/rpc", appFetch(single))), { trust });
    expect(viaSingles).to.deep.equal(direct);
    expect(single.posts.filter((p) => !Array.isArray(p)).length).to.equal(calls);
  });

  it("gives each client address a budget of calls per minute, a batch spending one per call", async function () {
    let now = Date.UTC(2026, 10, 25, 6, 0, 10);
    const app = Fastify();
    await app.register(errorHandler);
    await app.register(publicRpcRoutes, {
      deployments: ledger.chain.deployments,
      send: (method, params) => ethers.provider.send(method, params),
      callsPerMinute: 5,
      budget: ledger.services.store,
      now: () => now,
    });
    try {
      const post = (payload: unknown, remoteAddress = "198.51.100.7") =>
        app.inject({ method: "POST", url: "/rpc", payload: payload as object, remoteAddress });
      const one = { jsonrpc: "2.0", id: 1, method: "eth_chainId" };
      expect((await post([one, one, one])).statusCode).to.equal(200);
      expect((await post(one)).statusCode).to.equal(200);
      const over = await post([one, one]);
      expect(over.statusCode).to.equal(429);
      expect(over.json()).to.include({ statusCode: 429, code: "RATE_LIMITED" });
      expect(over.headers["retry-after"]).to.equal("50");
      // A refused batch spends nothing: one call is still left. Another address has its own budget.
      expect((await post(one)).statusCode).to.equal(200);
      expect((await post(one)).statusCode).to.equal(429);
      expect((await post([one, one, one, one, one], "203.0.113.9")).statusCode).to.equal(200);
      now += 50_000; // the next minute
      expect((await post([one, one, one, one, one])).statusCode).to.equal(200);
    } finally {
      await app.close();
    }
  });

  it("budgets the client a trusted reverse proxy names (TRUST_PROXY_HOPS), not the proxy", async function () {
    const proxied = await startLedger({ chain: ledger.chain, env: { RPC_CALLS_PER_MINUTE: "2", TRUST_PROXY_HOPS: "1" } });
    try {
      const post = (client: string) =>
        proxied.app.inject({
          method: "POST",
          url: "/rpc",
          payload: [{ jsonrpc: "2.0", id: 1, method: "eth_chainId" }, { jsonrpc: "2.0", id: 2, method: "eth_chainId" }],
          remoteAddress: "10.0.0.2",
          headers: { "x-forwarded-for": client },
        });
      expect((await post("198.51.100.7")).statusCode).to.equal(200);
      expect((await post("198.51.100.7")).statusCode).to.equal(429);
      expect((await post("203.0.113.9")).statusCode).to.equal(200);
    } finally {
      await proxied.close();
    }
  });

  it("hands each caller its own call's error, not the batch's", async function () {
    const send = httpRpc("http://ledger.test/rpc", appFetch({ batching: true, posts: [] }));
    const [chainId, reset] = await Promise.allSettled([send("eth_chainId", []), send("anvil_reset", [])]);
    expect(chainId.status).to.equal("fulfilled");
    expect(reset.status).to.equal("rejected");
    expect((reset as PromiseRejectedResult).reason.message).to.match(/^anvil_reset: method anvil_reset is not served here/);
  });
});
