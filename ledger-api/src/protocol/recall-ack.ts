/**
 * A recall acknowledgement: a stall's signed statement "we hold this recalled lot, we have taken it off sale", on the
 * record like any other fact. It needs no kind of its own: it is an `Observed` document on the affected lot with
 *
 *   readings: [{ "type": "RecallAcknowledged", "value": 1, "unit": "ack" }]
 *   note:     the recall's event hash, "0x" and 64 lower-case hex digits (the `Recalled` event's EIP-712 hash,
 *             as GET /v1/recalls/{batch}/reach and the provenance answer's `batch.recall.eventHash` give it)
 *
 * and nothing else is required (`location` may say where the lot was set aside). The reading's type is the marker;
 * the note names which recall, because a lot may inherit recalls from more than one ancestor.
 *
 * Ingest admits one only from the custodian of a lot that is under that recall (itself or through an ancestor):
 * RECALL_ACK_NOT_CUSTODIAN / RECALL_ACK_NOT_RECALLED otherwise (ingest/recall-ack-rules.ts). The market's projection
 * (market/projection.ts) and any verifier read it back with `recallAckOf`, so the three agree on what counts.
 */
import type { ObservedDoc } from "./documents.ts";

/** The reading type that marks an Observed document as a recall acknowledgement. */
export const RECALL_ACK_READING = "RecallAcknowledged";
export const RECALL_ACK_UNIT = "ack";

const EVENT_HASH = /^0x[0-9a-f]{64}$/;

/** The acknowledgement document a custodian signs for `batch`, naming the recall's event hash. */
export function recallAckDoc(batch: ObservedDoc["batch"], recallEventHash: string, occurredAt: string): ObservedDoc {
  return {
    kind: "Observed",
    batch,
    occurredAt,
    readings: [{ type: RECALL_ACK_READING, value: 1, unit: RECALL_ACK_UNIT }],
    note: recallEventHash.toLowerCase(),
  };
}

/** What an acknowledgement names. */
export interface RecallAck {
  /** The acknowledged recall's event hash, lower-case. */
  readonly recallEventHash: string;
}

/** Whether a document is meant as an acknowledgement: an Observed document with the marker reading. */
export function isRecallAckAttempt(doc: { readonly kind: string; readonly readings?: readonly { readonly type: string }[] }): boolean {
  return doc.kind === "Observed" && (doc.readings ?? []).some((r) => r.type === RECALL_ACK_READING);
}

/**
 * The acknowledgement a document states, or undefined when it is not one. A document with the marker reading but no
 * well-formed event hash in `note` is not an acknowledgement (ingest refuses it before it is logged).
 */
export function recallAckOf(doc: { readonly kind: string; readonly readings?: readonly { readonly type: string }[]; readonly note?: string }): RecallAck | undefined {
  if (!isRecallAckAttempt(doc)) return undefined;
  const note = doc.note?.toLowerCase();
  if (note === undefined || !EVENT_HASH.test(note)) return undefined;
  return { recallEventHash: note };
}
