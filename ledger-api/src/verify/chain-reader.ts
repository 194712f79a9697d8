/**
 * What the verifier reads from the chain, and nothing else: a few views of ProvenanceLedger and LogAnchor and
 * transaction receipts, over a JSON-RPC endpoint the USER chooses. The ledger's own server is never asked.
 *
 * `providerReader(provider)` implements it over any ethers `Provider` (a `JsonRpcProvider` in the CLI, Hardhat's
 * in-process provider in tests); `rpcReader(httpRpc(url))` over plain JSON-RPC with fetch, which keeps ethers'
 * provider stack (about half of ethers) out of the browser bundle. The ABI fragments are written out here rather than read from
 * `artifacts/` so this module runs in a browser; test/api/verify/verify.test.ts checks them against the compiled ABI.
 *
 * Every view takes the block it reads at, so one verification reads one consistent chain state.
 */
import { Interface, type Provider } from "ethers";

/** A batch record as ProvenanceLedger.getBatch returns it; `status` 0 (None) for an id the chain does not know. */
export interface OnChainBatch {
  readonly registrant: string;
  /** 0 None, 1 Active, 2 Split, 3 Merged (LifecycleTypes.Status). */
  readonly status: number;
  readonly imported: boolean;
  readonly customsCleared: boolean;
  readonly recalled: boolean;
  readonly custodian: string;
  readonly offeredTo: string;
  readonly quantity: bigint;
  readonly head: string;
  readonly unit: string;
  readonly parents: readonly string[];
}

/** An actor's profile as ActorRegistry.profileOf returns it; `name` is "" for an account without one. */
export interface OnChainProfile {
  readonly name: string;
  /** ISO 3166-1 alpha-2, "" when unset. */
  readonly country: string;
  readonly retail: boolean;
}

/** One anchored tree head as LogAnchor.anchorAt returns it. */
export interface OnChainAnchor {
  readonly root: string;
  readonly size: number;
  readonly blockNumber: number;
}

export interface ReceiptLog {
  readonly address: string;
  readonly topics: readonly string[];
  readonly data: string;
  /** Position of the log in its block. */
  readonly index: number;
}

export interface Receipt {
  /** 1 success, 0 reverted. */
  readonly status: number;
  readonly blockNumber: number;
  readonly logs: readonly ReceiptLog[];
}

/** The chain as the verifier sees it. Addresses are those the verifier decided to trust, passed on every call. */
export interface ChainReader {
  chainId(): Promise<bigint>;
  blockNumber(): Promise<number>;
  /** ProvenanceLedger's EIP-712 domain separator. */
  domainSeparator(ledger: string, block: number): Promise<string>;
  hasRole(ledger: string, role: string, account: string, block: number): Promise<boolean>;
  headOf(ledger: string, batchId: string, block: number): Promise<string>;
  isRecalled(ledger: string, batchId: string, block: number): Promise<boolean>;
  getBatch(ledger: string, batchId: string, block: number): Promise<OnChainBatch>;
  profileOf(ledger: string, account: string, block: number): Promise<OnChainProfile>;
  anchorCount(anchor: string, block: number): Promise<number>;
  /** The anchor at `index`, or null when the contract holds no such anchor. */
  anchorAt(anchor: string, index: number, block: number): Promise<OnChainAnchor | null>;
  /** The mined transaction's receipt, or null when the chain does not know the transaction. */
  receipt(txHash: string): Promise<Receipt | null>;
}

/** ProvenanceLedger views the verifier calls. */
export const LEDGER_VIEWS = [
  "function hasRole(bytes32 role, address account) view returns (bool)",
  "function headOf(bytes32 batchId) view returns (bytes32)",
  "function isRecalled(bytes32 batchId) view returns (bool)",
  "function domainSeparator() view returns (bytes32)",
  "function profileOf(address account) view returns (tuple(string name, uint64 gln, bytes2 country, bool retail))",
  "function getBatch(bytes32 batchId) view returns (tuple(address registrant, uint8 status, bool imported, bool customsCleared, bool recalled, uint32 ancestry, address custodian, address offeredTo, uint256 quantity, bytes32 head, string unit, bytes32[] parents))",
] as const;

/** ProvenanceLedger's lifecycle events, one per kind name (all kinds but Observed). */
export const LEDGER_EVENTS = [
  "event Registered(bytes32 indexed batchId, address indexed actor, string gtin, string lot, uint256 quantity, string unit, bool imported, bytes32 docHash, bytes32 eventHash, bytes32 head)",
  "event PesticideApplied(bytes32 indexed batchId, address indexed actor, string casNumber, uint32 preHarvestIntervalDays, bytes32 docHash, bytes32 eventHash, bytes32 head)",
  "event Inspected(bytes32 indexed batchId, address indexed actor, bool passed, bytes32 docHash, bytes32 eventHash, bytes32 head)",
  "event CustomsCleared(bytes32 indexed batchId, address indexed actor, string declarationNumber, bytes2 originCountry, bytes32 docHash, bytes32 eventHash, bytes32 head)",
  "event HandOffOffered(bytes32 indexed batchId, address indexed actor, address indexed to, bytes32 docHash, bytes32 eventHash, bytes32 head)",
  "event HandOffAccepted(bytes32 indexed batchId, address indexed actor, address indexed from, bytes32 docHash, bytes32 eventHash, bytes32 head)",
  "event HandOffCancelled(bytes32 indexed batchId, address indexed actor, address indexed to, bytes32 docHash, bytes32 eventHash, bytes32 head)",
  "event Split(bytes32 indexed batchId, address indexed actor, bytes32[] children, bytes32 docHash, bytes32 eventHash, bytes32 head)",
  "event Merged(bytes32 indexed batchId, address indexed actor, bytes32[] parents, uint256 quantity, bytes32 docHash, bytes32 eventHash, bytes32 head)",
  "event Recalled(bytes32 indexed batchId, address indexed actor, string reason, bytes32 docHash, bytes32 eventHash, bytes32 head)",
] as const;

/** LogAnchor views the verifier calls. */
export const ANCHOR_VIEWS = [
  "function anchorCount() view returns (uint256)",
  "function anchorAt(uint256 anchorIndex) view returns (tuple(bytes32 root, uint64 size, uint64 timestamp, uint64 blockNumber))",
] as const;

export const ledgerInterface = new Interface([...LEDGER_VIEWS, ...LEDGER_EVENTS]);
export const anchorInterface = new Interface([...ANCHOR_VIEWS]);

/** The four JSON-RPC primitives every view is built from. */
export interface ChainTransport {
  chainId(): Promise<bigint>;
  blockNumber(): Promise<number>;
  /** eth_call at `block`; returns the result bytes or throws (a revert included). */
  call(to: string, data: string, block: number): Promise<string>;
  receipt(txHash: string): Promise<Receipt | null>;
}

/** The ChainReader over any transport: ABI-encodes each view and decodes its result. */
export function chainReader(transport: ChainTransport): ChainReader {
  async function call(iface: Interface, to: string, fn: string, args: readonly unknown[], block: number) {
    return iface.decodeFunctionResult(fn, await transport.call(to, iface.encodeFunctionData(fn, args), block));
  }
  return {
    chainId: () => transport.chainId(),
    blockNumber: () => transport.blockNumber(),
    receipt: (txHash) => transport.receipt(txHash),
    async domainSeparator(ledger, block) {
      return String((await call(ledgerInterface, ledger, "domainSeparator", [], block))[0]);
    },
    async hasRole(ledger, role, account, block) {
      return Boolean((await call(ledgerInterface, ledger, "hasRole", [role, account], block))[0]);
    },
    async headOf(ledger, batchId, block) {
      return String((await call(ledgerInterface, ledger, "headOf", [batchId], block))[0]);
    },
    async isRecalled(ledger, batchId, block) {
      return Boolean((await call(ledgerInterface, ledger, "isRecalled", [batchId], block))[0]);
    },
    async getBatch(ledger, batchId, block) {
      const b = (await call(ledgerInterface, ledger, "getBatch", [batchId], block))[0];
      return {
        registrant: String(b.registrant),
        status: Number(b.status),
        imported: Boolean(b.imported),
        customsCleared: Boolean(b.customsCleared),
        recalled: Boolean(b.recalled),
        custodian: String(b.custodian),
        offeredTo: String(b.offeredTo),
        quantity: BigInt(b.quantity),
        head: String(b.head),
        unit: String(b.unit),
        parents: Array.from(b.parents as Iterable<unknown>, String),
      };
    },
    async profileOf(ledger, account, block) {
      const p = (await call(ledgerInterface, ledger, "profileOf", [account], block))[0];
      const country = String(p.country);
      return {
        name: String(p.name),
        country: country === "0x0000" ? "" : String.fromCharCode(parseInt(country.slice(2, 4), 16), parseInt(country.slice(4, 6), 16)),
        retail: Boolean(p.retail),
      };
    },
    async anchorCount(anchor, block) {
      return Number((await call(anchorInterface, anchor, "anchorCount", [], block))[0]);
    },
    async anchorAt(anchor, index, block) {
      if (!Number.isSafeInteger(index) || index < 0) return null;
      // Both reads at once (one round trip when batched); an index past the count reverts, and means "no such anchor".
      const [count, a] = await Promise.all([
        call(anchorInterface, anchor, "anchorCount", [], block).then((r) => Number(r[0])),
        call(anchorInterface, anchor, "anchorAt", [index], block).then(
          (r) => r[0],
          () => null,
        ),
      ]);
      if (index >= count || a === null) return null;
      return { root: String(a.root), size: Number(a.size), blockNumber: Number(a.blockNumber) };
    },
  };
}

/** A ChainReader over an ethers Provider (JsonRpcProvider, Hardhat's provider, a BrowserProvider). */
export function providerReader(provider: Provider): ChainReader {
  return chainReader({
    chainId: async () => (await provider.getNetwork()).chainId,
    blockNumber: () => provider.getBlockNumber(),
    call: (to, data, block) => provider.call({ to, data, blockTag: block }),
    async receipt(txHash) {
      const r = await provider.getTransactionReceipt(txHash);
      if (!r) return null;
      return {
        status: r.status ?? 0,
        blockNumber: r.blockNumber,
        logs: r.logs.map((l) => ({ address: l.address, topics: [...l.topics], data: l.data, index: l.index })),
      };
    },
  });
}

/** Sends one JSON-RPC request and returns its `result`; throws on a JSON-RPC error. */
export type RpcSend = (method: string, params: readonly unknown[]) => Promise<unknown>;

/** Most calls sent in one JSON-RPC batch (the ledger's /rpc takes 100; public nodes commonly allow about as many). */
export const RPC_BATCH_LIMIT = 50;

interface Pending {
  readonly body: { jsonrpc: "2.0"; id: number; method: string; params: readonly unknown[] };
  resolve(result: unknown): void;
  reject(error: Error): void;
}

type RpcReply = { id?: unknown; result?: unknown; error?: { code?: number; message?: string } };

function settle(call: Pending, reply: RpcReply | undefined, url: string): void {
  const { method } = call.body;
  if (!reply) call.reject(new Error(`${method}: no answer from ${url}`));
  else if (reply.error) call.reject(new Error(`${method}: ${reply.error.message ?? "JSON-RPC error"} (${reply.error.code ?? "?"})`));
  else call.resolve(reply.result);
}

/**
 * An RpcSend over HTTP(S) with fetch: what the browser bundle uses instead of ethers' provider stack. Calls made in
 * the same tick go out as one JSON-RPC batch (up to RPC_BATCH_LIMIT each): a verification issues its reads in waves
 * of parallel calls, and on a phone's mobile connection each HTTP round trip costs more than the calls in it. An
 * endpoint that refuses a batch, or does not answer it with an array, gets the calls one by one.
 */
export function httpRpc(url: string, fetchFn: typeof fetch = fetch): RpcSend {
  let id = 0;
  let queue: Pending[] = [];

  async function post(body: unknown): Promise<unknown> {
    const res = await fetchFn(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`HTTP ${res.status} from ${url}`);
    return res.json();
  }

  async function one(call: Pending): Promise<void> {
    try {
      settle(call, (await post(call.body)) as RpcReply, url);
    } catch (err) {
      call.reject(new Error(`${call.body.method}: ${(err as Error).message}`));
    }
  }

  async function flush(calls: Pending[]): Promise<void> {
    if (calls.length === 1) return one(calls[0]!);
    let replies: unknown;
    try {
      replies = await post(calls.map((c) => c.body));
    } catch {
      replies = undefined; // e.g. 413 or 400 from a node that caps or refuses batches: ask one by one
    }
    if (!Array.isArray(replies)) {
      await Promise.all(calls.map(one));
      return;
    }
    const byId = new Map((replies as RpcReply[]).map((r) => [r?.id, r]));
    for (const c of calls) settle(c, byId.get(c.body.id), url);
  }

  return (method, params) =>
    new Promise((resolve, reject) => {
      queue.push({ body: { jsonrpc: "2.0", id: ++id, method, params }, resolve, reject });
      if (queue.length > 1) return;
      // Everything asked for before the next macrotask joins this batch.
      setTimeout(() => {
        const calls = queue;
        queue = [];
        for (let i = 0; i < calls.length; i += RPC_BATCH_LIMIT) void flush(calls.slice(i, i + RPC_BATCH_LIMIT));
      }, 0);
    });
}

const quantity = (x: unknown): number => Number(BigInt(String(x)));
const blockTag = (n: number): string => "0x" + n.toString(16);

/** A ChainReader over raw JSON-RPC (`httpRpc(url)`, or a provider's `send`): no ethers provider needed. */
export function rpcReader(send: RpcSend): ChainReader {
  return chainReader({
    chainId: async () => BigInt(String(await send("eth_chainId", []))),
    blockNumber: async () => quantity(await send("eth_blockNumber", [])),
    call: async (to, data, block) => String(await send("eth_call", [{ to, data }, blockTag(block)])),
    async receipt(txHash) {
      const r = (await send("eth_getTransactionReceipt", [txHash])) as {
        status?: string;
        blockNumber: string;
        logs: { address: string; topics: string[]; data: string; logIndex: string }[];
      } | null;
      if (!r) return null;
      return {
        status: r.status === undefined ? 0 : quantity(r.status),
        blockNumber: quantity(r.blockNumber),
        logs: r.logs.map((l) => ({ address: l.address, topics: [...l.topics], data: l.data, index: quantity(l.logIndex) })),
      };
    },
  });
}
