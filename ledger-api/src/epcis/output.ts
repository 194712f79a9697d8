/**
 * The ledger's entries as EPCIS 2.0 events and documents: the mapped event (mapping.ts `signedToEpcis`) plus the
 * fields only the ledger knows: eventID (the event's receipt URL, named by its EIP-712 hash), recordTime (when
 * the log accepted it), `ledger:eventHash`, `ledger:logIndex` and `ledger:inclusionProof` (the log entry with its
 * inclusion proof, GET /v1/log/entries/{index}).
 */
import type { SignedEvent } from "../protocol/documents.ts";
import type { LoggedBody } from "../query/batch-state.ts";
import { epcisContext, signedToEpcis, type EpcisEvent, type Json } from "./mapping.ts";

export interface LoggedEvent {
  readonly index: number;
  readonly eventHash: string;
  /** Unix ms the log accepted it. */
  readonly receivedAt: number;
  readonly body: LoggedBody;
}

/** The signed event a logged body holds (the nonce and deadline are the signed struct's). */
export function signedOf(body: LoggedBody): SignedEvent {
  return {
    doc: body.doc as unknown as SignedEvent["doc"],
    signer: body.signer,
    nonce: String(body.values.nonce),
    deadline: Number(body.values.deadline),
    signature: body.signature,
  };
}

export function loggedToEpcis(publicBaseUrl: string, e: LoggedEvent, extra: EpcisEvent = {}): EpcisEvent {
  return {
    ...signedToEpcis(signedOf(e.body)),
    eventID: `${publicBaseUrl}/v1/events/${e.eventHash}`,
    recordTime: new Date(e.receivedAt).toISOString(),
    "ledger:eventHash": e.eventHash,
    "ledger:logIndex": e.index,
    "ledger:inclusionProof": `${publicBaseUrl}/v1/log/entries/${e.index}`,
    ...extra,
  };
}

export function epcisDocument(publicBaseUrl: string, events: readonly EpcisEvent[], now = new Date()): EpcisEvent {
  return {
    "@context": epcisContext(publicBaseUrl),
    type: "EPCISDocument",
    schemaVersion: "2.0",
    creationDate: now.toISOString(),
    epcisBody: { eventList: events as Json[] },
  };
}

export function epcisQueryDocument(publicBaseUrl: string, events: readonly EpcisEvent[], now = new Date()): EpcisEvent {
  return {
    "@context": epcisContext(publicBaseUrl),
    type: "EPCISQueryDocument",
    schemaVersion: "2.0",
    creationDate: now.toISOString(),
    epcisBody: { queryResults: { queryName: "SimpleEventQuery", resultsBody: { eventList: events as Json[] } } },
  };
}
