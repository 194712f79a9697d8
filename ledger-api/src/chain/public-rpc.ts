/**
 * POST /rpc: a read-only JSON-RPC window on the chain, narrowed to what the verifier reads (verify/chain-reader.ts):
 * the chain id, the block number, transaction receipts, and `eth_call` to this deployment's two contracts. It is
 * the default PUBLIC_RPC_URL, so a phone that scanned a label on the market's network can verify without reaching
 * the chain node itself: the node (in local mode, anvil with its admin methods, `anvil_reset` among them) stays
 * bound to loopback, and the ledger's RPC credentials never appear in a page.
 *
 * Trust: reading the chain through this server means trusting it for chain state. An operator whose shoppers should
 * not have to sets PUBLIC_RPC_URL to a node of the market authority's instead; the verify CLI takes `--rpc`.
 *
 * JSON-RPC 2.0, single or batch (up to MAX_BATCH calls). A method outside the list is answered with error -32601, a
 * call to another contract or with other fields with -32602, and a node error with its code and message: every call
 * gets an answer in its slot, as the specification asks.
 *
 * Each client address has a budget of calls per minute (RPC_CALLS_PER_MINUTE; a batch spends one per call). A phone
 * verifying a batch makes a few dozen; the budget is set for a market's shared Wi-Fi address, many phones behind it.
 * Over budget: 429 RATE_LIMITED with Retry-After, before the node is asked anything. The count is the store's
 * (SharedStateStore.spendRpcCalls): with several API instances on PostgreSQL, a client has one budget, not one per
 * instance its requests happen to reach.
 */
import type { FastifyPluginAsync, FastifySchemaValidationError } from "fastify";
import { Type, type Static, type TSchema } from "typebox";
import { Compile } from "typebox/compile";
import { ApiError, ErrorBody } from "../http/errors.ts";
import type { SharedStateStore } from "../store/store.ts";
import type { Deployments } from "./contracts.ts";

/** Sends one JSON-RPC call to the node; rejects with the node's error. */
export type RpcSend = (method: string, params: unknown[]) => Promise<unknown>;

export interface PublicRpcOptions {
  readonly deployments: Deployments;
  readonly send: RpcSend;
  /** Calls each client address may make per minute; 0 for no limit. */
  readonly callsPerMinute: number;
  /** Where the calls spent are counted (the store, shared by every instance). */
  readonly budget: Pick<SharedStateStore, "spendRpcCalls">;
  /** Milliseconds since the epoch (tests move it). */
  readonly now?: () => number;
}

const WINDOW_MS = 60_000;

/** Calls spent per client address in fixed one-minute windows, counted by `store`. */
class CallBudget {
  private readonly store: Pick<SharedStateStore, "spendRpcCalls">;
  private readonly limit: number;
  private readonly now: () => number;

  constructor(store: Pick<SharedStateStore, "spendRpcCalls">, limit: number, now: () => number) {
    this.store = store;
    this.limit = limit;
    this.now = now;
  }

  /** Spends `calls` for `client`, or returns the seconds until its budget renews. */
  async spend(client: string, calls: number): Promise<{ ok: true } | { ok: false; retryAfter: number }> {
    const now = this.now();
    const window = Math.floor(now / WINDOW_MS);
    if (await this.store.spendRpcCalls(client, window, calls, this.limit)) return { ok: true };
    return { ok: false, retryAfter: Math.ceil(((window + 1) * WINDOW_MS - now) / 1000) };
  }
}

/** Most calls in one batch: a verification of one batch makes a few dozen, in several round trips. */
export const MAX_BATCH = 100;

const Id = Type.Union([Type.Integer(), Type.String({ maxLength: 100 }), Type.Null()]);

const RpcRequest = Type.Object(
  {
    jsonrpc: Type.Literal("2.0"),
    id: Type.Optional(Id),
    method: Type.String({ maxLength: 64 }),
    params: Type.Optional(Type.Array(Type.Unknown(), { maxItems: 4 })),
  },
  { title: "JsonRpcRequest" },
);
type RpcRequest = Static<typeof RpcRequest>;

const RpcResponse = Type.Object(
  {
    jsonrpc: Type.Literal("2.0"),
    id: Id,
    result: Type.Optional(Type.Unknown()),
    error: Type.Optional(Type.Object({ code: Type.Integer(), message: Type.String() })),
  },
  { title: "JsonRpcResponse" },
);
type RpcResponse = Static<typeof RpcResponse>;

class RpcRefusal extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

const HEX = /^0x[0-9a-fA-F]*$/;
const BLOCK_TAG = /^(0x[0-9a-fA-F]{1,16}|latest|safe|finalized|earliest)$/;
const TX_HASH = /^0x[0-9a-fA-F]{64}$/;

/** The params this window passes on for `method`, rebuilt from the request's (nothing else is forwarded). */
function allowedParams(method: string, params: readonly unknown[], contracts: ReadonlySet<string>): unknown[] {
  switch (method) {
    case "eth_chainId":
    case "eth_blockNumber":
    case "net_version":
      return [];
    case "eth_getTransactionReceipt": {
      const [hash] = params;
      if (typeof hash !== "string" || !TX_HASH.test(hash)) throw new RpcRefusal(-32602, "expected [transactionHash]");
      return [hash];
    }
    case "eth_call": {
      const [call, block = "latest"] = params;
      const { to, data, input, ...rest } = (call ?? {}) as { to?: unknown; data?: unknown; input?: unknown };
      const payload = data ?? input;
      if (typeof to !== "string" || !contracts.has(to.toLowerCase())) {
        throw new RpcRefusal(-32602, "eth_call is served only for this ledger's ProvenanceLedger and LogAnchor");
      }
      if (typeof payload !== "string" || !HEX.test(payload) || Object.keys(rest).length > 0) {
        throw new RpcRefusal(-32602, "eth_call takes { to, data } only");
      }
      if (typeof block !== "string" || !BLOCK_TAG.test(block)) throw new RpcRefusal(-32602, "expected a block number or tag");
      return [{ to, data: payload }, block];
    }
    default:
      throw new RpcRefusal(-32601, `method ${method} is not served here (read-only: eth_chainId, eth_blockNumber, eth_call, eth_getTransactionReceipt)`);
  }
}

/** The node's error as JSON-RPC: ethers keeps the node's own error object on `error`. */
function nodeError(err: unknown): { code: number; message: string } {
  const e = err as { error?: { code?: unknown; message?: unknown }; shortMessage?: unknown; message?: unknown };
  const code = typeof e?.error?.code === "number" ? e.error.code : -32603;
  const message = typeof e?.error?.message === "string" ? e.error.message : String(e?.shortMessage ?? e?.message ?? err);
  return { code, message };
}

export const publicRpcRoutes: FastifyPluginAsync<PublicRpcOptions> = async (app, opts) => {
  // A JSON-RPC body is taken as sent: the app's shared Ajv coerces types (meant for query strings), and coercing a
  // request `id` (["a"] into "a", true into 1) would echo back an id the client never sent, or one the response's
  // serializer cannot write (a 500). TypeBox validates without coercing.
  app.setValidatorCompiler(({ schema }) => {
    const checker = Compile(schema as TSchema);
    const validate = (data: unknown): boolean => {
      if (checker.Check(data)) return true;
      validate.errors = checker.Errors(data) as unknown as FastifySchemaValidationError[];
      return false;
    };
    validate.errors = [] as FastifySchemaValidationError[];
    return validate;
  });
  const contracts = new Set([opts.deployments.ledger.toLowerCase(), opts.deployments.anchor.toLowerCase()]);
  const budget = opts.callsPerMinute > 0 ? new CallBudget(opts.budget, opts.callsPerMinute, opts.now ?? Date.now) : undefined;

  async function answer(request: RpcRequest): Promise<RpcResponse> {
    const id = request.id ?? null;
    try {
      const params = allowedParams(request.method, request.params ?? [], contracts);
      return { jsonrpc: "2.0", id, result: await opts.send(request.method, params) };
    } catch (err) {
      return { jsonrpc: "2.0", id, error: err instanceof RpcRefusal ? { code: err.code, message: err.message } : nodeError(err) };
    }
  }

  app.post(
    "/rpc",
    {
      schema: {
        tags: ["chain"],
        summary: "Read-only JSON-RPC for verifiers: chain id, block number, receipts, and eth_call to this ledger's contracts",
        description:
          "The default PUBLIC_RPC_URL. Reading the chain through it means trusting this server for chain state; " +
          "set PUBLIC_RPC_URL to an independent node where that matters.",
        body: Type.Union([RpcRequest, Type.Array(RpcRequest, { minItems: 1, maxItems: MAX_BATCH })]),
        response: { 200: Type.Union([RpcResponse, Type.Array(RpcResponse)]), "4xx": ErrorBody },
      },
    },
    async (request, reply) => {
      const body = request.body as RpcRequest | RpcRequest[];
      const spent = await budget?.spend(request.ip, Array.isArray(body) ? body.length : 1);
      if (spent && !spent.ok) {
        reply.header("Retry-After", String(spent.retryAfter));
        throw new ApiError("RATE_LIMITED", `this address spent its ${opts.callsPerMinute} chain reads for this minute; retry in ${spent.retryAfter} s`);
      }
      return Array.isArray(body) ? Promise.all(body.map(answer)) : answer(body);
    },
  );
};
