/**
 * The JSON body the API stores with each logged event (ingest writes it; the relay reads it back to call the contract,
 * the queries to answer with the signed event):
 *
 *   {"doc": {...the event document...}, "values": {...the EIP-712 struct...}, "signer": "0x..", "signature": "0x.."}
 *
 * `values` is the struct exactly as signed (typed-data.ts `ValuesOf[kind]`) with every integer (uintN / intN) as a
 * decimal string, because JSON numbers lose precision above 2^53 and nonces and quantities are uint256. The field
 * list and types come from typed-data.ts `TYPES`, so this file needs no change when a struct gains a field.
 *
 * Decoding is strict: a missing or unknown field, a wrong JSON type, a non-decimal integer or malformed hex throws
 * EntryBodyError, so a body that does not describe exactly one struct never reaches the contract.
 */
import { getAddress, isHexString } from "ethers";
import type { TypedDataField } from "ethers";
import { TYPES, typeName } from "./typed-data.ts";
import type { Kind, ValuesOf } from "./typed-data.ts";

/** A logged event: the document, the struct its actor signed, the actor and the signature. */
export interface EntryBody<K extends Kind = Kind> {
  /** The event document (its RFC 8785 keccak is `values.docHash`). */
  readonly doc: Readonly<Record<string, unknown>>;
  readonly values: ValuesOf[K];
  /** The actor that signed `values`. */
  readonly signer: string;
  /** The actor's 65-byte EIP-712 signature, 0x hex. */
  readonly signature: string;
}

/** The stored body (or a struct's JSON form) does not have the shape of its kind. */
export class EntryBodyError extends Error {
  readonly path: string;
  constructor(path: string, message: string) {
    super(`entry body ${path}: ${message}`);
    this.name = "EntryBodyError";
    this.path = path;
  }
}

type Types = Readonly<Record<string, readonly TypedDataField[]>>;
type Direction = "encode" | "decode";

const INT = /^(u?)int(\d*)$/;
const BYTES = /^bytes(\d+)$/;
const DECIMAL = /^-?(0|[1-9][0-9]*)$/;

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/** Converts one value of EIP-712 type `type` between its typed form and its JSON form. */
function convert(types: Types, type: string, value: unknown, path: string, dir: Direction): unknown {
  if (type.endsWith("[]")) {
    if (!Array.isArray(value)) throw new EntryBodyError(path, `expected an array for ${type}`);
    const inner = type.slice(0, -2);
    return value.map((v, i) => convert(types, inner, v, `${path}[${i}]`, dir));
  }
  const fields = types[type];
  if (fields !== undefined) return convertStruct(types, fields, value, path, dir);
  const int = INT.exec(type);
  if (int) {
    if (dir === "encode") {
      if (typeof value !== "bigint") throw new EntryBodyError(path, `expected a bigint for ${type}`);
      return value.toString(10);
    }
    if (typeof value !== "string" || !DECIMAL.test(value)) {
      throw new EntryBodyError(path, `expected a decimal string for ${type}`);
    }
    const n = BigInt(value);
    const bits = BigInt(int[2] || "256");
    const unsigned = int[1] === "u";
    const [min, max] = unsigned ? [0n, 2n ** bits - 1n] : [-(2n ** (bits - 1n)), 2n ** (bits - 1n) - 1n];
    if (n < min || n > max) throw new EntryBodyError(path, `${value} is out of range for ${type}`);
    return n;
  }
  if (type === "bool") {
    if (typeof value !== "boolean") throw new EntryBodyError(path, "expected a boolean");
    return value;
  }
  if (type === "string") {
    if (typeof value !== "string") throw new EntryBodyError(path, "expected a string");
    return value;
  }
  if (type === "address") {
    if (typeof value !== "string") throw new EntryBodyError(path, "expected an address");
    try {
      return getAddress(value);
    } catch {
      throw new EntryBodyError(path, `not an address: ${value}`);
    }
  }
  const bytes = BYTES.exec(type);
  if (bytes) {
    if (typeof value !== "string" || !isHexString(value, Number(bytes[1]))) {
      throw new EntryBodyError(path, `expected 0x hex of ${bytes[1]} bytes`);
    }
    return value.toLowerCase();
  }
  throw new EntryBodyError(path, `unsupported EIP-712 type ${type}`);
}

function convertStruct(
  types: Types,
  fields: readonly TypedDataField[],
  value: unknown,
  path: string,
  dir: Direction,
): Record<string, unknown> {
  if (!isRecord(value)) throw new EntryBodyError(path, "expected an object");
  const known = new Set(fields.map((f) => f.name));
  for (const name of Object.keys(value)) {
    if (!known.has(name)) throw new EntryBodyError(`${path}.${name}`, "unknown field");
  }
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    if (!(f.name in value)) throw new EntryBodyError(`${path}.${f.name}`, "missing");
    out[f.name] = convert(types, f.type, value[f.name], `${path}.${f.name}`, dir);
  }
  return out;
}

function structOf(kind: Kind): { types: Types; fields: readonly TypedDataField[] } {
  const types = TYPES[kind];
  const fields = types[typeName(kind)];
  if (fields === undefined) throw new RangeError(`no EIP-712 type for kind ${kind}`);
  return { types, fields };
}

/** The JSON text of an entry body of `kind`. Throws EntryBodyError if `body.values` is not a struct of that kind. */
export function encodeEntryBody<K extends Kind>(kind: K, body: EntryBody<K>): string {
  const { types, fields } = structOf(kind);
  const values = convertStruct(types, fields, body.values, "values", "encode");
  return JSON.stringify({ doc: body.doc, values, signer: body.signer, signature: body.signature });
}

/** Parses and checks a stored entry body of `kind`; throws EntryBodyError on anything else. */
export function decodeEntryBody<K extends Kind>(kind: K, json: string): EntryBody<K> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (e) {
    throw new EntryBodyError("", `not JSON: ${(e as Error).message}`);
  }
  if (!isRecord(parsed)) throw new EntryBodyError("", "expected an object");
  const { doc, values, signer, signature } = parsed;
  if (!isRecord(doc)) throw new EntryBodyError("doc", "expected an object");
  if (typeof signer !== "string") throw new EntryBodyError("signer", "expected an address");
  let actor: string;
  try {
    actor = getAddress(signer);
  } catch {
    throw new EntryBodyError("signer", `not an address: ${signer}`);
  }
  if (typeof signature !== "string" || !isHexString(signature) || signature.length % 2 !== 0) {
    throw new EntryBodyError("signature", "expected 0x hex bytes");
  }
  const { types, fields } = structOf(kind);
  const typed = convertStruct(types, fields, values, "values", "decode");
  // The converter built exactly the fields of the kind's struct with their typed-data.ts types.
  return { doc, values: typed as unknown as ValuesOf[K], signer: actor, signature: signature.toLowerCase() };
}

/**
 * The JSON form of a struct of `kind`, as it stands in an entry body's `values` and in the provenance answer:
 * integers as decimal strings, addresses checksummed, hex lower-case. Throws EntryBodyError if `values` is not a
 * struct of that kind.
 */
export function valuesToJson<K extends Kind>(kind: K, values: ValuesOf[K]): Record<string, unknown> {
  const { types, fields } = structOf(kind);
  return convertStruct(types, fields, values, "values", "encode");
}

/** The struct of `kind` from its JSON form, checked as strictly as a stored body's; throws EntryBodyError. */
export function valuesFromJson<K extends Kind>(kind: K, json: unknown): ValuesOf[K] {
  const { types, fields } = structOf(kind);
  // The converter builds exactly the fields of the kind's struct with their typed-data.ts types.
  return convertStruct(types, fields, json, "values", "decode") as unknown as ValuesOf[K];
}
