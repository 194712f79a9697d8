/**
 * EPCIS 2.0 for partners' systems: sign the events your system already emits, so POST /epcis/capture accepts them.
 *
 *   const domain = await new LedgerClient(base).domain();
 *   const signed = await signEpcisEvent(wallet, domain, event, { resolverBase: base });
 *   await fetch(`${base}/epcis/capture`, { method: "POST", headers: { "content-type": "application/ld+json" },
 *     body: JSON.stringify(epcisCaptureDocument(base, [signed])) });
 *
 * The event is mapped to its ledger document with the server's own mapping (epcis/mapping.ts), and that document
 * is signed with the server's own derivation (signEvent), so a partner signs exactly what the ledger will store.
 * An event the ledger cannot represent throws MappingError (with the field's JSON pointer) before anything is signed.
 */
import type { Signer, TypedDataDomain } from "ethers";
import { signEvent, type SignOptions } from "./client.ts";
import { epcisToDoc, type EpcisEvent, type Json, type MappingOptions, type SignatureEnvelope } from "../epcis/mapping.ts";
import { epcisDocument } from "../epcis/output.ts";

export {
  docToEpcis,
  epcisContext,
  epcisToDoc,
  ledgerNamespace,
  lotEpc,
  MappingError,
  signedToEpcis,
  type EpcisEvent,
  type MappingOptions,
  type SignatureEnvelope,
} from "../epcis/mapping.ts";

/** `event` with `ledger:signature`: `signer`'s EIP-712 signature of the ledger document the event maps to. */
export async function signEpcisEvent(
  signer: Signer,
  domain: TypedDataDomain,
  event: EpcisEvent,
  options: SignOptions & MappingOptions = {},
): Promise<EpcisEvent> {
  const { "ledger:signature": _previous, ...unsigned } = event;
  const { doc } = epcisToDoc(unsigned, options);
  const signed = await signEvent(signer, domain, doc, options);
  const envelope: SignatureEnvelope = {
    signer: signed.signer,
    nonce: signed.nonce,
    deadline: signed.deadline,
    signature: signed.signature,
  };
  return { ...unsigned, "ledger:signature": envelope as unknown as Json };
}

/** An EPCISDocument for POST /epcis/capture to the ledger at `publicBaseUrl` (its context names the namespace). */
export function epcisCaptureDocument(publicBaseUrl: string, events: readonly EpcisEvent[]): EpcisEvent {
  return epcisDocument(publicBaseUrl, events);
}
