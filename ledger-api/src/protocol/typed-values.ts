/**
 * From an event document to the EIP-712 struct its actor signs.
 *
 * The struct's key fields are *derived* from the document, never taken from the request beside it, so a signature
 * that verifies always commits to exactly the document that is stored, and the contract enforces its rules on the
 * same values the shopper later reads. This is also where document-level consistency is checked (the kind of rule
 * no JSON Schema can express): GTIN check digits, a lab verdict that matches its numbers, conserved split
 * quantities. A violation throws DocumentError with a message the submitter can act on.
 */
import { hexlify, toUtf8Bytes } from "ethers";
import { batchKeys, Gs1Error, type BatchKeys } from "../gs1/keys.ts";
import { docHash } from "./canonical.ts";
import type { EventDoc } from "./documents.ts";
import { checksummedAddress } from "./eip712.ts";
import { batchIdOf, Kind, type KindName, type ValuesOf } from "./typed-data.ts";

export class DocumentError extends Error {
  override readonly name = "DocumentError";
  readonly code: "INVALID_IDENTIFIER" | "DOC_INCONSISTENT" | "SCHEMA_VIOLATION" | "INVALID_ADDRESS";
  /** The offending field, e.g. `doc.occurredAt`, when one field is at fault. */
  readonly field: string | undefined;
  constructor(code: DocumentError["code"], message: string, field?: string) {
    super(message);
    this.code = code;
    this.field = field;
  }
}

/**
 * An address as the ledger takes it: all-lower-case (or all-upper-case) hex carries no checksum and is taken as
 * written; mixed case is an EIP-55 checksum, and a wrong one is refused rather than guessed at, since it means the
 * address was mistyped or altered somewhere on its way (EIP-55's purpose). Returns the checksummed form.
 */
export function checkedAddress(value: string, field: string): string {
  const checksummed = checksummedAddress(value);
  const body = value.slice(2);
  const mixedCase = body !== body.toLowerCase() && body !== body.toUpperCase();
  if (checksummed !== undefined && (!mixedCase || checksummed === value)) return checksummed;
  throw new DocumentError(
    "INVALID_ADDRESS",
    `${field} ${value} is written in mixed case but its EIP-55 checksum is wrong (a mistyped or altered address); ` +
      `write it with the right checksum, or all in lower case`,
    field,
  );
}

export interface Authorisation {
  /** Unordered nonce, decimal. */
  readonly nonce: string;
  /** Unix seconds. */
  readonly deadline: number;
}

/** Everything the ledger needs to know about a document, derived once. */
interface DerivedBase {
  readonly kindName: KindName;
  /** The batch the event is about (for Merged: the new child batch). */
  readonly batchId: string;
  readonly keys: BatchKeys;
  /** Other batches the event names: split children, merge parents. */
  readonly related: readonly { readonly batchId: string; readonly keys: BatchKeys }[];
  readonly docHash: string;
  readonly occurredAt: number;
}

/** A derived event: its kind and the EIP-712 struct values, ready for TypedDataEncoder and the contract call. */
export type DerivedEvent = { [K in Kind]: DerivedBase & { readonly kind: K; readonly values: ValuesOf[K] } }[Kind];

function keysOf(gtin: string, lot: string): { batchId: string; keys: BatchKeys } {
  try {
    const keys = batchKeys(gtin, lot);
    if (keys.gtin !== gtin) throw new Gs1Error(`GTIN must be given as 14 digits: ${keys.gtin}`);
    return { batchId: batchIdOf(keys.gtin, keys.lot), keys };
  } catch (err) {
    if (err instanceof Gs1Error) throw new DocumentError("INVALID_IDENTIFIER", err.message);
    throw err;
  }
}

/**
 * Unix seconds of an RFC 3339 time. The signed struct holds times as uint64, so a time before 1970 has no signed
 * form: refused naming the field, as the schema would refuse it if JSON Schema could compare dates.
 */
function seconds(rfc3339: string, field: string, shown = rfc3339): number {
  const ms = Date.parse(rfc3339);
  if (!Number.isFinite(ms)) throw new DocumentError("DOC_INCONSISTENT", `${field} is not a valid time: ${shown}`, field);
  if (ms < 0) {
    throw new DocumentError(
      "SCHEMA_VIOLATION",
      `${field} ${shown} is before 1970-01-01T00:00:00Z; the ledger records times as unsigned unix seconds`,
      field,
    );
  }
  return Math.floor(ms / 1000);
}

function bytes2(country: string): string {
  return hexlify(toUtf8Bytes(country));
}

function gln(value: string | undefined): bigint {
  return value === undefined ? 0n : BigInt(value);
}

/** Derives the signed struct of a document and checks what a schema cannot. */
export function deriveEvent(doc: EventDoc, auth: Authorisation): DerivedEvent {
  const { batchId, keys } = keysOf(doc.batch.gtin, doc.batch.lot);
  const hash = docHash(doc);
  const occurredAt = seconds(doc.occurredAt, "doc.occurredAt");
  const common = { occurredAt: BigInt(occurredAt), docHash: hash, nonce: BigInt(auth.nonce), deadline: BigInt(auth.deadline) };
  const base = { kindName: doc.kind, batchId, keys, docHash: hash, occurredAt };

  switch (doc.kind) {
    case "Registered": {
      const harvest = seconds(`${doc.harvestDate}T00:00:00Z`, "doc.harvestDate", doc.harvestDate);
      if (harvest > occurredAt + 86_400) {
        throw new DocumentError("DOC_INCONSISTENT", "harvestDate is after the registration time");
      }
      return {
        ...base,
        kind: Kind.Registered,
        related: [],
        values: {
          gtin: keys.gtin,
          lot: keys.lot,
          product: doc.product,
          originCountry: bytes2(doc.origin.country),
          region: doc.origin.region,
          farmGln: gln(doc.origin.farm.gln),
          harvestDate: BigInt(harvest),
          quantity: BigInt(doc.quantity.value),
          unit: doc.quantity.unit,
          imported: doc.imported,
          ...common,
        },
      };
    }
    case "PesticideApplied":
      return {
        ...base,
        kind: Kind.PesticideApplied,
        related: [],
        values: {
          batchId,
          substance: doc.substance.name,
          casNumber: doc.substance.casNumber,
          preHarvestIntervalDays: BigInt(doc.preHarvestIntervalDays),
          ...common,
        },
      };
    case "Inspected": {
      const failing = doc.analytes.filter((a) => a.value > a.limit).map((a) => a.name);
      if (doc.passed !== (failing.length === 0)) {
        throw new DocumentError(
          "DOC_INCONSISTENT",
          doc.passed
            ? `passed is true but ${failing.join(", ")} exceed their limits`
            : "passed is false but every analyte is within its limit",
        );
      }
      return { ...base, kind: Kind.Inspected, related: [], values: { batchId, passed: doc.passed, ...common } };
    }
    case "CustomsCleared":
      return {
        ...base,
        kind: Kind.CustomsCleared,
        related: [],
        values: {
          batchId,
          declarationNumber: doc.declarationNumber,
          hsCode: doc.hsCode,
          originCountry: bytes2(doc.originCountry),
          portOfEntry: doc.portOfEntry,
          ...common,
        },
      };
    case "HandOffOffered":
      return { ...base, kind: Kind.HandOffOffered, related: [], values: { batchId, to: checkedAddress(doc.to, "doc.to"), ...common } };
    case "HandOffAccepted":
      return { ...base, kind: Kind.HandOffAccepted, related: [], values: { batchId, from: checkedAddress(doc.from, "doc.from"), ...common } };
    case "HandOffCancelled":
      return { ...base, kind: Kind.HandOffCancelled, related: [], values: { batchId, to: checkedAddress(doc.to, "doc.to"), ...common } };
    case "Split": {
      const units = new Set(doc.children.map((c) => c.quantity.unit));
      if (units.size !== 1) throw new DocumentError("DOC_INCONSISTENT", "split children must share one unit");
      const children = doc.children.map((c) => ({ ...keysOf(c.gtin, c.lot), quantity: c.quantity }));
      const ids = new Set([batchId, ...children.map((c) => c.batchId)]);
      if (ids.size !== children.length + 1) {
        throw new DocumentError("DOC_INCONSISTENT", "split children must be distinct new lots");
      }
      return {
        ...base,
        kind: Kind.Split,
        related: children.map(({ batchId: id, keys: k }) => ({ batchId: id, keys: k })),
        values: {
          batchId,
          children: children.map((c) => ({ gtin: c.keys.gtin, lot: c.keys.lot, quantity: BigInt(c.quantity.value) })),
          ...common,
        },
      };
    }
    case "Merged": {
      const parents = doc.parents.map((p) => keysOf(p.gtin, p.lot));
      const ids = new Set([batchId, ...parents.map((p) => p.batchId)]);
      if (ids.size !== parents.length + 1) {
        throw new DocumentError("DOC_INCONSISTENT", "merge parents must be distinct and differ from the new lot");
      }
      return {
        ...base,
        kind: Kind.Merged,
        related: parents,
        values: { parents: parents.map((p) => p.batchId), gtin: keys.gtin, lot: keys.lot, ...common },
      };
    }
    case "Recalled":
      return { ...base, kind: Kind.Recalled, related: [], values: { batchId, reason: doc.reason, ...common } };
    case "Observed":
      return { ...base, kind: Kind.Observed, related: [], values: { batchId, ...common } };
  }
}

