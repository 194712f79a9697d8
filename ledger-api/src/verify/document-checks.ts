/**
 * What was signed, per timeline entry:
 * - document:  the document's RFC 8785 keccak is `values.docHash`, and re-deriving the signed struct from the
 *              document (protocol/typed-values.ts) gives exactly `values`, so the signature covers what is shown;
 *              the entry is filed under the batch the document names and relates to the batch asked about. An
 *              entry inherited through a Split or Merge that is not on chain yet (a pending lot) is pending.
 * - signature: EIP-712 over the pinned domain and protocol/typed-data.ts TYPES (the answer's `chain.types` must equal
 *              them) hashes `values` to `eventHash`; the 65-byte low-s signature recovers to `signer`.
 */
import { getAddress, recoverAddress, Signature } from "ethers";
import type { Provenance, TimelineEntry } from "../protocol/answer.ts";
import { docHash, type JsonValue } from "../protocol/canonical.ts";
import type { EventDoc } from "../protocol/documents.ts";
import { valuesFromJson, valuesToJson } from "../protocol/entry-body.ts";
import { INHERITED_KINDS } from "../protocol/lineage.ts";
import { eventHash as hashEvent, Kind, ledgerDomain, TYPES, type KindName } from "../protocol/typed-data.ts";
import { deriveEvent } from "../protocol/typed-values.ts";
import { canonical, fail, ok, pending, sameAddress, sameHex, short, type Check, type Context } from "./check.ts";

const SECP256K1_HALF_N = 0x7fffffff_ffffffff_ffffffff_ffffffff_5d576e73_57a4501d_dfe92f46_681b20a0n;

export function checkDocument(ctx: Context, entry: TimelineEntry, kind: KindName): Check<"document"> {
  const name = "document";
  const values = entry.values as Record<string, unknown>;
  if (entry.primaryType !== kind) return fail(name, `primaryType ${entry.primaryType} is not the entry's kind ${kind}`);
  const doc = entry.document as EventDoc;
  if (doc === null || typeof doc !== "object" || doc.kind !== kind) {
    return fail(name, `the document is not a ${kind} document`);
  }
  const hash = docHash(doc as unknown as JsonValue);
  if (!sameHex(hash, values.docHash)) {
    return fail(name, `the document hashes to ${short(hash)}, not the signed docHash ${short(String(values.docHash))}: it was changed`);
  }
  const derived = deriveEvent(doc, { nonce: String(values.nonce), deadline: Number(values.deadline) });
  const mine = valuesToJson(Kind[kind], derived.values as never);
  const theirs = valuesToJson(Kind[kind], valuesFromJson(Kind[kind], entry.values));
  const differ = Object.keys(mine).filter((k) => canonical(mine[k]) !== canonical(theirs[k]));
  if (differ.length > 0) return fail(name, `the signed values do not match the document: ${differ.join(", ")}`);
  if (!sameHex(entry.batchId, derived.batchId)) {
    return fail(name, `filed under ${short(entry.batchId)} but the document is about ${short(derived.batchId)}`);
  }
  const related = derived.related.map((r) => r.batchId.toLowerCase());
  switch (entry.relation) {
    case "own":
      if (!sameHex(entry.batchId, ctx.batchId)) return fail(name, `shown as this batch's own event but filed under ${short(entry.batchId)}`);
      break;
    case "created":
      if (kind !== "Split" || !related.includes(ctx.batchId)) return fail(name, "shown as the Split that created this lot, but it does not name it");
      break;
    case "consumed":
      if (kind !== "Merged" || !related.includes(ctx.batchId)) return fail(name, "shown as the Merge that consumed this lot, but it does not name it");
      break;
    case "inherited":
      if (!INHERITED_KINDS.has(kind)) return fail(name, `a ${kind} event is not inherited by a lot's descendants`);
      if (!ctx.ancestors.has(entry.batchId.toLowerCase())) {
        if (ctx.pendingAncestors.has(entry.batchId.toLowerCase())) {
          return pending(name, `inherited from ${short(entry.batchId)} through a Split or Merge not on chain yet`);
        }
        return fail(name, `shown as inherited from ${short(entry.batchId)}, which the chain does not record as an ancestor of this lot`);
      }
      break;
  }
  return ok(name, `the document hashes to the signed docHash and its key fields are the signed values`);
}

export function checkSignature(ctx: Context, answer: Provenance, entry: TimelineEntry, kind: KindName): Check<"signature"> {
  const name = "signature";
  const types = TYPES[Kind[kind]];
  const shown = answer.chain.types[kind];
  if (canonical(shown) !== canonical(types)) return fail(name, `the answer's EIP-712 types for ${kind} are not the ledger's`);
  const domain = ledgerDomain(ctx.chainId, ctx.ledger);
  const d = answer.chain.domain;
  if (
    d.name !== domain.name ||
    d.version !== domain.version ||
    BigInt(d.chainId) !== ctx.chainId ||
    !sameAddress(d.verifyingContract, ctx.ledger)
  ) {
    return fail(name, `the answer's EIP-712 domain is not ProvenanceLedger v1 on chain ${ctx.chainId} at ${ctx.ledger}`);
  }
  const values = valuesFromJson(Kind[kind], entry.values);
  const digest = hashEvent(domain, Kind[kind], values as never);
  if (!sameHex(digest, entry.eventHash)) {
    return fail(name, `the signed values hash to ${short(digest)}, not the eventHash ${short(entry.eventHash)}`);
  }
  const sig = entry.signature;
  if (!/^0x[0-9a-fA-F]{130}$/.test(sig)) return fail(name, "the signature is not 65 bytes");
  const v = parseInt(sig.slice(130, 132), 16);
  const s = BigInt("0x" + sig.slice(66, 130));
  if (v !== 27 && v !== 28) return fail(name, `the signature's v is ${v}, not 27 or 28`);
  if (s > SECP256K1_HALF_N || s === 0n) return fail(name, "the signature's s is not in the lower half of the curve order (malleable)");
  const recovered = recoverAddress(digest, Signature.from(sig));
  if (!sameAddress(recovered, entry.signer.address)) {
    return fail(name, `the signature recovers to ${recovered}, not the stated signer ${entry.signer.address}`);
  }
  return ok(name, `signed by ${getAddress(recovered)}${entry.signer.name ? ` (${entry.signer.name})` : ""}`);
}
