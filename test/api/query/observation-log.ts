/**
 * Logs many signed Observed events fast, as the ingest path would log them, but straight through the store's append:
 * each one a real document, derived struct, EIP-712 hash and native secp256k1 signature, its entry body encoded as
 * ingest encodes it (protocol/entry-body.ts), appended in groups of 5,000. For tests of lots with hundreds of
 * thousands of observations, where POSTing them through the API (with its per-lot daily budget) would take minutes.
 */
import { createRequire } from "node:module";
import type { HDNodeWallet, TypedDataDomain } from "ethers";
import { Eip712Hasher } from "../../../ledger-api/src/protocol/eip712.ts";
import { encodeEntryBody } from "../../../ledger-api/src/protocol/entry-body.ts";
import type { EventDoc } from "../../../ledger-api/src/protocol/documents.ts";
import { deriveEvent } from "../../../ledger-api/src/protocol/typed-values.ts";
import type { AppendItem, Store } from "../../../ledger-api/src/store/store.ts";

interface NativeSecp256k1 {
  ecdsaSign(msg32: Uint8Array, seckey: Uint8Array): { signature: Uint8Array; recid: number };
}
const native = createRequire(import.meta.url)("secp256k1/bindings") as NativeSecp256k1;

export interface ObservationRun {
  readonly lot: { readonly gtin: string; readonly lot: string };
  readonly count: number;
  /** occurredAt of the first; each next one `stepSeconds` later. */
  readonly start: Date;
  readonly stepSeconds: number;
  /** The readings of observation `i`. */
  readonly readings: (i: number) => { type: string; value: number; unit: string }[];
  /** Nonces are nonceBase + i. */
  readonly nonceBase: bigint;
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** The signed documents of a run, in order (doc, nonce, signature, digest). */
export function signedObservations(signer: HDNodeWallet, domain: TypedDataDomain, run: ObservationRun, from = 0, to = run.count) {
  const hasher = new Eip712Hasher({
    name: String(domain.name),
    version: String(domain.version),
    chainId: BigInt(domain.chainId as bigint),
    verifyingContract: String(domain.verifyingContract),
  });
  const key = Buffer.from(signer.privateKey.slice(2), "hex");
  const deadline = Math.floor(Date.now() / 1000) + 86_400 * 365;
  const out: AppendItem[] = [];
  for (let i = from; i < to; i++) {
    const doc: EventDoc = {
      kind: "Observed",
      batch: { gtin: run.lot.gtin, lot: run.lot.lot },
      occurredAt: iso(run.start.getTime() + i * run.stepSeconds * 1000),
      readings: run.readings(i),
    };
    const nonce = (run.nonceBase + BigInt(i)).toString();
    const derived = deriveEvent(doc, { nonce, deadline });
    const digest = hasher.hash(derived.kind, derived.values);
    const sig = native.ecdsaSign(Buffer.from(digest.slice(2), "hex"), key);
    const signature = "0x" + Buffer.from(sig.signature).toString("hex") + (27 + sig.recid).toString(16);
    out.push({
      key: digest,
      nonce,
      body: encodeEntryBody(derived.kind, { doc, values: derived.values, signer: signer.address, signature }),
      receivedAt: Date.now(),
      entry: {
        batchId: derived.batchId,
        kind: derived.kind,
        eventDigest: digest,
        docHash: derived.values.docHash,
        signer: signer.address.toLowerCase(),
        signature,
      },
    });
  }
  return out;
}

/** Appends a run's observations to the store, 5,000 per group commit. */
export async function logObservations(store: Store, signer: HDNodeWallet, domain: TypedDataDomain, run: ObservationRun): Promise<void> {
  for (let from = 0; from < run.count; from += 5000) {
    await store.appendBatch(signedObservations(signer, domain, run, from, Math.min(run.count, from + 5000)));
  }
}
