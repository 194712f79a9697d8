/**
 * The ingest worker thread: runs prepare.ts on one request body at a time, for IngestPool (ingest-pool.ts).
 *
 * Loading: it starts under plain Node 24 type stripping (`node main.ts`) as well as under the test runner, so it uses
 * erasable TypeScript only and `.ts` import specifiers (which both resolve). It serves only when the pool marks it
 * through workerData, so importing it elsewhere has no side effect.
 *
 * Protocol: pool -> worker `{ id, body, now }` (body: the request's raw JSON bytes, transferred); worker -> pool
 * `{ type: "ready", backend }` once loaded (the secp256k1 implementation it recovers with), then `{ type: "result", id, outcome }` per request, or `{ type: "error", id,
 * message }` when prepare threw something that is not a refusal (a bug: the request is answered 500, the worker
 * goes on). `{ type: "shutdown" }` closes the port so the thread exits on its own.
 */
import { parentPort, workerData } from "node:worker_threads";
import { Eip712Hasher, type Eip712Domain } from "../protocol/eip712.ts";
import { prepareBody, type PrepareContext, type PrepareOutcome } from "./prepare.ts";
import { backendName, recoverSync, type BackendName } from "./signatures.ts";

/** workerData that tells this module to serve the pool protocol. */
export const INGEST_WORKER_ROLE = "ledger-ingest-worker";

export interface IngestWorkerData {
  readonly role: typeof INGEST_WORKER_ROLE;
  /** The ledger's EIP-712 domain, chainId as a decimal string. */
  readonly domain: { readonly name: string; readonly version: string; readonly chainId: string; readonly verifyingContract: string };
  readonly maxEvents: number;
}

export interface PrepareRequest {
  readonly id: number;
  readonly body: Uint8Array;
  readonly now: number;
}

export type IngestWorkerReply =
  | { readonly type: "ready"; readonly backend: BackendName }
  | { readonly type: "result"; readonly id: number; readonly outcome: PrepareOutcome }
  | { readonly type: "error"; readonly id: number; readonly message: string };

/** The fast path: protocol/eip712.ts hashing and native libsecp256k1 recovery, both on this thread. */
export function fastContext(domain: Eip712Domain, maxEvents: number): (now: number) => PrepareContext {
  const hasher = new Eip712Hasher(domain);
  const hash = (kind: Parameters<Eip712Hasher["hash"]>[0], values: Parameters<Eip712Hasher["hash"]>[1]) => hasher.hash(kind, values);
  return (now) => ({ now, maxEvents, hash, recover: recoverSync });
}

if (parentPort !== null && (workerData as { role?: unknown } | null)?.role === INGEST_WORKER_ROLE) {
  const port = parentPort;
  const data = workerData as IngestWorkerData;
  const context = fastContext({ ...data.domain, chainId: BigInt(data.domain.chainId) }, data.maxEvents);
  port.on("message", (request: PrepareRequest | { type: "shutdown" }) => {
    if ("type" in request) {
      port.close();
      return;
    }
    let reply: IngestWorkerReply;
    try {
      reply = { type: "result", id: request.id, outcome: prepareBody(request.body, context(request.now)) };
    } catch (err) {
      reply = { type: "error", id: request.id, message: (err as Error)?.message ?? String(err) };
    }
    port.postMessage(reply);
  });
  const ready: IngestWorkerReply = { type: "ready", backend: backendName };
  port.postMessage(ready);
}
