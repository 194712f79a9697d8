/**
 * The per-event CPU work of ingest, from a request's raw body bytes to events ready to be admitted: JSON parsing,
 * the body's JSON Schema, document derivation and canonical hashing, the EIP-712 hash, and signature recovery.
 * It runs in the ingest workers (ingest-worker.ts), or on the calling thread with INGEST_WORKERS=0; either way it
 * reads no store and no shared state, so the main thread keeps only what needs the log's state (dedup, the rules,
 * the append; ingestor.ts).
 *
 * Checks, in the order the API has always made them (each refusal's code and message are pinned by
 * test/api/ingest/refusals.test.ts):
 *   1. the body parses as JSON (MALFORMED_JSON, the message of JSON.parse; prototype poisoning is refused as
 *      Fastify's parser refuses it);
 *   2. one event or an array of them, at most `maxEvents` (TOO_MANY_EVENTS);
 *   3. the body's JSON Schema (SCHEMA_VIOLATION, "body<path> <message>", as Fastify reported it);
 *   4. per event, first offending event wins: the signer's address, identifiers, times and document consistency,
 *      uint256 nonce, v; the deadline is only noted (`expired`): the main thread refuses it only for events that are
 *      not already logged, so a resubmission after the deadline still gets its receipt;
 *   5. every event's signer is recovered; a mismatch is reported per event (`badSignature`), not thrown, because the
 *      main thread refuses it only for events that are not already logged (a resubmission is answered with its
 *      receipt whatever signature it carries, as before).
 * A refusal is data (`PrepareOutcome`), so it crosses a thread boundary unchanged; anything else thrown is a bug
 * and surfaces as a 500.
 */
import { Type, type TSchema } from "typebox";
import { Compile } from "typebox/compile";
import { SignedEvent } from "../protocol/documents.ts";
import { CanonicalJsonError } from "../protocol/canonical.ts";
import { checkedAddress, DocumentError, deriveEvent } from "../protocol/typed-values.ts";
import { encodeEntryBody } from "../protocol/entry-body.ts";
import type { EventValues, Kind, KindName } from "../protocol/typed-data.ts";

/** The body of POST /v1/events after normalisation to an array: also what the OpenAPI document shows. */
export function ingestBodySchema(maxEvents: number) {
  return Type.Array(SignedEvent, { minItems: 1, maxItems: maxEvents });
}

/** A refusal as data: an ApiError's code, message and details, or a JSON syntax error. */
export type Refusal =
  | { readonly type: "api"; readonly code: string; readonly message: string; readonly details: Record<string, string | number | boolean> }
  | { readonly type: "syntax"; readonly message: string };

/** One event of the request, checked and hashed: everything the main thread needs to admit and append it. */
export interface PreparedEvent {
  /** Position in the request. */
  readonly position: number;
  readonly eventHash: string;
  readonly kind: Kind;
  readonly kindName: KindName;
  readonly batchId: string;
  readonly values: EventValues;
  /** The signer as submitted. */
  readonly signer: string;
  readonly signature: string;
  /** The stored entry body (protocol/entry-body.ts), encoded here so the main thread does not. */
  readonly body: string;
  /** Why the signature does not prove `signer`, or null when it does. */
  readonly badSignature: string | null;
  /** The signature's deadline had passed at `PrepareContext.now`. */
  readonly expired: boolean;
}

export type PrepareOutcome = { readonly ok: true; readonly events: PreparedEvent[] } | { readonly ok: false; readonly refusal: Refusal };

/** What prepare needs besides the body: the clock, the limit, and the hash and recovery functions. */
export interface PrepareContext {
  /** Unix seconds, for deadlines. */
  readonly now: number;
  readonly maxEvents: number;
  /** The EIP-712 digest of the event in the ledger's domain. */
  readonly hash: (kind: Kind, values: EventValues) => string;
  /** Recovers each (digest, signature) to its EIP-55 signer, or null (OpenZeppelin ECDSA's rules). */
  readonly recover: (items: readonly { digest: string; signature: string }[]) => (string | null)[];
}

const checkers = new Map<number, ReturnType<typeof Compile>>();

function checkerFor(maxEvents: number): ReturnType<typeof Compile> {
  let checker = checkers.get(maxEvents);
  if (checker === undefined) {
    checker = Compile(ingestBodySchema(maxEvents) as TSchema);
    checkers.set(maxEvents, checker);
  }
  return checker;
}

class RefusalError extends Error {
  readonly refusal: Refusal;
  constructor(refusal: Refusal) {
    super(refusal.message);
    this.refusal = refusal;
  }
}

function refuse(code: string, message: string, details: Record<string, string | number | boolean> = {}): never {
  throw new RefusalError({ type: "api", code, message, details });
}

function refuseAt(position: number, code: string, message: string, details: Record<string, string | number | boolean> = {}): never {
  refuse(code, `event ${position}: ${message}`, { ...details, index: position });
}

// Fastify parses JSON with secure-json-parse (protoAction and constructorAction "error"); the same refusal here.
const PROTO_HINT = /__proto__|constructor|\\u00/;
const FORBIDDEN = "Object contains forbidden prototype property";

function checkPrototypes(root: unknown): void {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    if (node === null || typeof node !== "object") continue;
    if (!Array.isArray(node)) {
      if (Object.hasOwn(node, "__proto__")) throw new RefusalError({ type: "syntax", message: FORBIDDEN });
      const ctor = (node as Record<string, unknown>).constructor;
      if (Object.hasOwn(node, "constructor") && ctor !== null && typeof ctor === "object" && Object.hasOwn(ctor, "prototype")) {
        throw new RefusalError({ type: "syntax", message: FORBIDDEN });
      }
    }
    for (const value of Object.values(node)) if (value !== null && typeof value === "object") stack.push(value);
  }
}

const utf8 = new TextDecoder("utf-8");

function parse(body: Uint8Array | string): unknown {
  const text = typeof body === "string" ? body : utf8.decode(body);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new RefusalError({ type: "syntax", message: (err as Error).message });
  }
  if (PROTO_HINT.test(text)) checkPrototypes(parsed);
  return parsed;
}

/** Steps 1-3: the body as an array of schema-valid signed events. */
function parseEvents(body: Uint8Array | string, maxEvents: number): SignedEvent[] {
  const parsed = parse(body);
  const events = Array.isArray(parsed) ? parsed : [parsed];
  if (events.length > maxEvents) {
    refuse("TOO_MANY_EVENTS", `${events.length} events in one request; at most ${maxEvents} are accepted`);
  }
  const checker = checkerFor(maxEvents);
  if (!checker.Check(events)) {
    const first = (checker.Errors(events) as unknown as { instancePath: string; message: string }[])[0];
    refuse("SCHEMA_VIOLATION", first ? `body${first.instancePath} ${first.message}` : "body is invalid");
  }
  return events as SignedEvent[];
}

/** Step 4 for one schema-valid event, without hashing: the refusal it earns, or null. */
export function checkSignedEvent(signed: SignedEvent, position: number, now: number): Refusal | null {
  try {
    prepareOne(signed, position, { now, maxEvents: 1, hash: () => "", recover: () => [] });
    return null;
  } catch (err) {
    if (err instanceof RefusalError) return err.refusal;
    throw err;
  }
}

/** Step 4 for one event. */
function prepareOne(signed: SignedEvent, position: number, ctx: PrepareContext) {
  let derived;
  try {
    checkedAddress(signed.signer, "signer");
    derived = deriveEvent(signed.doc, { nonce: signed.nonce, deadline: signed.deadline });
  } catch (err) {
    if (err instanceof DocumentError) refuseAt(position, err.code, err.message, err.field === undefined ? {} : { field: err.field });
    if (err instanceof CanonicalJsonError) refuseAt(position, "SCHEMA_VIOLATION", err.message);
    throw err;
  }
  if (BigInt(signed.nonce) >= 2n ** 256n) refuseAt(position, "SCHEMA_VIOLATION", "nonce must fit in uint256", { field: "nonce" });
  const v = Number.parseInt(signed.signature.slice(-2), 16);
  // The contract's ECDSA takes only 27 / 28; one signature must have one byte form in the log.
  if (v !== 27 && v !== 28) refuseAt(position, "BAD_SIGNATURE", `signature v must be 27 or 28, got ${v}`);
  return { derived, eventHash: ctx.hash(derived.kind, derived.values) };
}

/** Steps 1-5 for one request body; see the file comment. */
export function prepareBody(body: Uint8Array | string, ctx: PrepareContext): PrepareOutcome {
  try {
    const signedEvents = parseEvents(body, ctx.maxEvents);
    const hashed = signedEvents.map((signed, position) => prepareOne(signed, position, ctx));
    const recovered = ctx.recover(hashed.map((h, i) => ({ digest: h.eventHash, signature: signedEvents[i]!.signature })));
    const events = hashed.map(({ derived, eventHash }, position): PreparedEvent => {
      const signed = signedEvents[position]!;
      const signer = recovered[position];
      const badSignature =
        signer === null || signer === undefined
          ? "the signature is malformed or not canonical (high s)"
          : signer.toLowerCase() !== signed.signer.toLowerCase()
            ? `the signature was made by ${signer}, not by the signer ${signed.signer}`
            : null;
      return {
        position,
        eventHash,
        kind: derived.kind,
        kindName: derived.kindName,
        batchId: derived.batchId,
        values: derived.values,
        signer: signed.signer,
        signature: signed.signature,
        body: encodeEntryBody(derived.kind, { doc: signed.doc, values: derived.values, signer: signed.signer, signature: signed.signature }),
        badSignature,
        expired: signed.deadline < ctx.now,
      };
    });
    return { ok: true, events };
  } catch (err) {
    if (err instanceof RefusalError) return { ok: false, refusal: err.refusal };
    throw err;
  }
}
