/**
 * Makes signed request bodies for the benchmark: real documents, real EIP-712 hashes, real secp256k1 signatures
 * (native libsecp256k1), on a worker thread so signing a million events does not stall the load generator.
 * A job names the lots, how many bodies and events per body, and where its nonces start; the reply is the bodies
 * as JSON text, ready to POST.
 */
import { createRequire } from "node:module";
import { parentPort } from "node:worker_threads";
import { Eip712Hasher } from "../../ledger-api/src/protocol/eip712.ts";
import { deriveEvent } from "../../ledger-api/src/protocol/typed-values.ts";
import type { EventDoc } from "../../ledger-api/src/protocol/documents.ts";

export interface SignJob {
  readonly id: number;
  readonly domain: { name: string; version: string; chainId: string; verifyingContract: string };
  readonly privateKey: string;
  readonly signer: string;
  readonly gtin: string;
  readonly lots: readonly string[];
  /**
   * "registered": one Registered event per lot, in one body; "observed": Observed events spread over the lots;
   * "offered" / "accepted": a hand-off of each lot to / from `counterparty` (the relay's benchmark).
   */
  readonly kind: "registered" | "observed" | "offered" | "accepted";
  /** The other side of a hand-off: the receiver of an offer, the giver of an acceptance. */
  readonly counterparty?: string;
  readonly bodies: number;
  readonly perBody: number;
  /** Decimal; each event's nonce is nonceBase + its sequence number, so no two events anywhere share one. */
  readonly nonceBase: string;
  readonly firstSeq: number;
  readonly deadline: number;
}

interface NativeSecp256k1 {
  ecdsaSign(msg32: Uint8Array, seckey: Uint8Array): { signature: Uint8Array; recid: number };
}

const native = createRequire(import.meta.url)("secp256k1/bindings") as NativeSecp256k1;

function iso(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

function docFor(job: SignJob, seq: number, now: number): EventDoc {
  const lot = job.lots[seq % job.lots.length]!;
  if (job.kind === "registered") {
    return {
      kind: "Registered",
      batch: { gtin: job.gtin, lot },
      occurredAt: iso(now - 7200),
      product: "Jeju Hallabong tangerines",
      origin: { country: "KR", region: "Jeju-do", farm: { name: "Orchard 3" } },
      harvestDate: iso(now - 86_400).slice(0, 10),
      quantity: { value: 1000, unit: "kg" },
      imported: false,
    };
  }
  if (job.kind === "offered" || job.kind === "accepted") {
    if (job.counterparty === undefined) throw new Error(`a ${job.kind} job needs its counterparty`);
    return job.kind === "offered"
      ? { kind: "HandOffOffered", batch: { gtin: job.gtin, lot }, occurredAt: iso(now - 600), to: job.counterparty }
      : { kind: "HandOffAccepted", batch: { gtin: job.gtin, lot }, occurredAt: iso(now - 300), from: job.counterparty };
  }
  return {
    kind: "Observed",
    batch: { gtin: job.gtin, lot },
    occurredAt: iso(now - 3600 + (seq % 3600)),
    readings: [{ type: "Temperature", value: Math.round(20 + (seq % 80)) / 10, unit: "Cel" }],
    location: { name: "Garak Market cold room 4" },
  };
}

export function runJob(job: SignJob): string[] {
  const hasher = new Eip712Hasher({ ...job.domain, chainId: BigInt(job.domain.chainId) });
  const key = Buffer.from(job.privateKey.slice(2), "hex");
  const now = Math.floor(Date.now() / 1000);
  const base = BigInt(job.nonceBase);
  const out: string[] = [];
  let seq = job.firstSeq;
  for (let b = 0; b < job.bodies; b++) {
    const events: string[] = [];
    for (let i = 0; i < job.perBody; i++, seq++) {
      const doc = docFor(job, seq, now);
      const nonce = (base + BigInt(seq)).toString();
      const derived = deriveEvent(doc, { nonce, deadline: job.deadline });
      const digest = Buffer.from(hasher.hash(derived.kind, derived.values).slice(2), "hex");
      const sig = native.ecdsaSign(digest, key);
      const signature = "0x" + Buffer.from(sig.signature).toString("hex") + (27 + sig.recid).toString(16);
      events.push(JSON.stringify({ doc, signer: job.signer, nonce, deadline: job.deadline, signature }));
    }
    out.push(`[${events.join(",")}]`);
  }
  return out;
}

parentPort?.on("message", (job: SignJob) => {
  parentPort!.postMessage({ id: job.id, bodies: runJob(job) });
});
