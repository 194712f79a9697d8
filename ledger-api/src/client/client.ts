/**
 * A small client for producers', importers', labs' and market systems: sign an event document, submit it, follow
 * its receipt and fetch proofs. The demo loader and the tests use it too, so what the README documents is what runs.
 *
 *   const client = new LedgerClient("https://ledger.example.org");
 *   const signed = await signEvent(wallet, await client.domain(), doc);
 *   const [receipt] = await client.submit([signed]);
 *
 * Signing derives the EIP-712 struct from the document with the same code the server uses to check it
 * (protocol/typed-values.ts), so a document the client signs is exactly the one the server verifies.
 */
import { randomBytes } from "node:crypto";
import type { Signer, TypedDataDomain } from "ethers";
import type { EventDoc, SignedEvent } from "../protocol/documents.ts";
import { deriveEvent } from "../protocol/typed-values.ts";
import { TYPES } from "../protocol/typed-data.ts";

export interface SignOptions {
  /** Unordered nonce; default 128 random bits, so concurrent submitters never collide. */
  readonly nonce?: bigint;
  /** Unix seconds after which the signature is void; default 7 days from now. */
  readonly deadline?: number;
}

/** Signs `doc` as `signer` for the ledger at `domain` (from `LedgerClient.domain()`). */
export async function signEvent(
  signer: Signer,
  domain: TypedDataDomain,
  doc: EventDoc,
  options: SignOptions = {},
): Promise<SignedEvent> {
  const nonce = (options.nonce ?? BigInt("0x" + randomBytes(16).toString("hex"))).toString();
  const deadline = options.deadline ?? Math.floor(Date.now() / 1000) + 7 * 86_400;
  const derived = deriveEvent(doc, { nonce, deadline });
  const types = TYPES[derived.kind];
  const signature = await signer.signTypedData(domain, types, derived.values as unknown as Record<string, unknown>);
  return { doc, signer: await signer.getAddress(), nonce, deadline, signature };
}

/** Attempts of one request while the server answers 503 with Retry-After (load shedding). */
const RETRIES_WHEN_OVERLOADED = 5;

/** A refusal from the API, with its stable code. */
export class LedgerApiError extends Error {
  override readonly name = "LedgerApiError";
  readonly status: number;
  readonly code: string;
  readonly body: Record<string, unknown>;
  constructor(status: number, body: Record<string, unknown>) {
    super(`${status} ${String(body.code ?? "")}: ${String(body.message ?? "")}`);
    this.status = status;
    this.code = String(body.code ?? "UNKNOWN");
    this.body = body;
  }
}

export interface ChainInfo {
  readonly chainId: number;
  readonly ledger: string;
  readonly anchor: string;
  readonly domain: { name: string; version: string; chainId: number; verifyingContract: string };
}

export interface EventReceipt {
  readonly index: number;
  readonly eventHash: string;
  readonly leafHash: string;
  readonly prevIndex: number;
  readonly duplicate: boolean;
  readonly batchId: string;
  readonly kind: string;
  readonly anchor: { readonly status: "pending" | "anchored"; readonly promisedWithinMs: number; readonly anchorIndex?: number };
  readonly relay: { readonly status: string; readonly txHash?: string; readonly reason?: string } | null;
}

type Fetch = typeof fetch;

export class LedgerClient {
  private readonly baseUrl: string;
  private readonly fetchFn: Fetch;
  private chainInfo: Promise<ChainInfo> | undefined;

  constructor(baseUrl: string, options: { fetch?: Fetch } = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.fetchFn = options.fetch ?? fetch;
  }

  /** The chain and contracts this ledger records on; fetched once. */
  chain(): Promise<ChainInfo> {
    this.chainInfo ??= this.request<ChainInfo>("GET", "/v1/chain");
    return this.chainInfo;
  }

  /** The EIP-712 domain events must be signed for. */
  async domain(): Promise<TypedDataDomain> {
    return (await this.chain()).domain;
  }

  /** Submits signed events; all are logged or none is (the error names the offending event's index). */
  async submit(events: readonly SignedEvent[]): Promise<EventReceipt[]> {
    const { receipts } = await this.request<{ receipts: EventReceipt[] }>("POST", "/v1/events", events);
    return receipts;
  }

  /** A receipt by log index or event hash, with the current anchor and relay status. */
  receipt(id: number | string): Promise<EventReceipt> {
    return this.request("GET", `/v1/events/${encodeURIComponent(String(id))}`);
  }

  /** The provenance answer of a batch: Digital Link URL or path, or hex batchId. */
  provenance(batch: string): Promise<Record<string, unknown>> {
    return this.request("GET", `/v1/batches/${encodeURIComponent(batch)}/provenance`);
  }

  checkpoint(): Promise<{ size: number; root: string }> {
    return this.request("GET", "/v1/log/checkpoint");
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    // A 503 with Retry-After is the server shedding load before doing anything: the same request is safe to send
    // again (a resubmitted event gets its receipt back), a few times, after the wait it asks for.
    for (let attempt = 1; ; attempt++) {
      res = await this.fetchFn(this.baseUrl + path, {
        method,
        headers: body === undefined ? { accept: "application/json" } : { "content-type": "application/json", accept: "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const retryAfter = Number(res.headers.get("retry-after"));
      if (res.status !== 503 || !(retryAfter >= 0) || attempt >= RETRIES_WHEN_OVERLOADED) break;
      await res.arrayBuffer();
      await new Promise((resolve) => setTimeout(resolve, Math.min(retryAfter, 30) * 1000));
    }
    const text = await res.text();
    const parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    if (!res.ok) throw new LedgerApiError(res.status, parsed);
    return parsed as T;
  }
}
