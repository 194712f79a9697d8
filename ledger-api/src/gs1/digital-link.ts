/**
 * GS1 Digital Link URIs (GS1 Digital Link Standard: URI Syntax 1.2 and later; ISO/IEC 18975) for the keys this
 * ledger names batches by: GTIN (AI 01) with its key qualifiers consumer product variant (22), batch/lot (10) and
 * serial (21), plus data attributes such as expiry (17) in the query string.
 *
 * What this module guarantees:
 * - `parseDigitalLink` accepts exactly one reading of a link: any http(s) domain and any path prefix before the
 *   GTIN, qualifiers in the order the standard's ABNF fixes (link-path.ts), every percent-escape well formed, no AI
 *   twice, and in the query string every data attribute of GS1's AI table (ai-table.ts: the toolkit's AIs of type
 *   D), each value checked against its format, check digit and content rules (ai-values.ts: dates, ISO 3166 / 4217
 *   codes, ...) and all AIs together against the pairing rules (pairing.ts). The query string is form-encoded as GS1
 *   reads it: `+` is a space. A compressed link (compression.ts) is decompressed and then read exactly as its
 *   uncompressed form. Anything else is a Gs1Error whose message says what to change. Where this parser
 *   deliberately differs from GS1's reference parser, README "GS1 Digital Link" lists it.
 * - `formatDigitalLink` writes the one canonical form: numeric AIs (never the deprecated convenience alphas such
 *   as /gtin/), the GTIN as 14 digits, and every AI value character outside RFC 3986 "unreserved" percent-encoded
 *   with upper-case hex. Its output parses back to the same keys and attributes.
 *
 * Trap: the on-chain batchId hashes the *unencoded* path `/01/{gtin14}/10/{lot}` (see keys.ts), not the encoded
 * path a URI carries. A lot such as `A/1` appears as `/10/A%2F1` in the URI but `/10/A/1` in the hashed string, so
 * never hash a path taken from a URI; parse it and use `batchId` / `canonicalPath` from the result.
 *
 * This module reads GS1's AI table (the toolkit in `digital-link.js`): server side only. A page that needs only a
 * batch's path reads it with link-path.ts.
 */
import { aiEntry } from "./ai-table.ts";
import { centuryOf, checkAiValue } from "./ai-values.ts";
import { COMPRESSED_SEGMENT, compress, decompress, type Pair } from "./compression.ts";
import { Gs1Error, batchIdOf, batchKeys, checkLot, checkSerial, normaliseGtin } from "./keys.ts";
import type { BatchKeys } from "./keys.ts";
import {
  GTIN_QUALIFIERS,
  QUALIFIER_NAMES,
  checkQualifier,
  encodedPath,
  findGtin,
  isAiShaped,
  linkPathOf,
  numericAi,
  parsePathKeys,
  type LinkKeys,
  type LinkPath,
} from "./link-path.ts";
import { checkPairing } from "./pairing.ts";
import { EXAMPLE, MAX_INPUT, checkUriCharacters, formDecode, percentEncode, splitLink, splitOrigin } from "./uri.ts";

export { percentDecode, percentEncode } from "./uri.ts";
export type { LinkKeys } from "./link-path.ts";

// ---------------------------------------------------------------------------------------------------------------
// Types

/**
 * Data attributes: AIs that describe the item rather than identify it; the standard puts them in the query string.
 * Dates are GS1 YYMMDD strings, kept as written (DD may be 00 where the AI allows "day unknown"); use
 * `gs1DateToIso` to show one.
 */
export interface DataAttributes {
  /** AI 11, production date, YYMMDD. */
  readonly productionDate?: string;
  /** AI 13, packaging date, YYMMDD. */
  readonly packagingDate?: string;
  /** AI 15, best before date, YYMMDD. */
  readonly bestBefore?: string;
  /** AI 16, sell by date, YYMMDD. */
  readonly sellBy?: string;
  /** AI 17, expiration (use by) date, YYMMDD. */
  readonly expiry?: string;
  /** AI 7007, harvest date, YYMMDD or a range YYMMDDYYMMDD. */
  readonly harvestDate?: string;
  /** Every other data attribute, keyed by its AI (e.g. { "3103": "001250", "422": "410" }), value unencoded. */
  readonly other?: Readonly<Record<string, string>>;
}

/** A parsed, validated GS1 Digital Link. */
export interface DigitalLink extends LinkPath {
  /** Always present; `other` is always present too (possibly empty) so results compare cleanly. */
  readonly attributes: DataAttributes & { readonly other: Readonly<Record<string, string>> };
  /** The `linkType` query parameter (e.g. "gs1:pip"), which asks a resolver for one kind of link. */
  readonly linkType?: string;
  /** Non-GS1 query parameters other than linkType (e.g. "context", "lang"), decoded. */
  readonly params: Readonly<Record<string, string>>;
  /** The link came compressed (GS1 Digital Link compression) and was read as its uncompressed form. */
  readonly compressed: boolean;
}

/** What an API route resolves a batch reference to. `keys` is absent when the caller gave only the batchId. */
export interface BatchRef {
  readonly batchId: string;
  readonly keys?: BatchKeys;
}

// ---------------------------------------------------------------------------------------------------------------
// Names

/**
 * Names for messages where GS1's data title is terse ("USE BY OR EXPIRY"); every other AI is named by its title in
 * the AI table.
 */
const FRIENDLY_NAMES: Readonly<Record<string, string>> = {
  "01": "GTIN",
  "11": "production date",
  "13": "packaging date",
  "15": "best before date",
  "16": "sell by date",
  "17": "expiry date",
  "7006": "first freeze date",
  "7007": "harvest date",
  ...QUALIFIER_NAMES,
};

function aiName(ai: string): string {
  return FRIENDLY_NAMES[ai] ?? aiEntry(ai)?.title ?? "unknown";
}

/** Named DataAttributes fields and their AIs, in AI order. */
const NAMED_ATTRIBUTES = [
  ["productionDate", "11"],
  ["packagingDate", "13"],
  ["bestBefore", "15"],
  ["sellBy", "16"],
  ["expiry", "17"],
  ["harvestDate", "7007"],
] as const;
type NamedAttribute = (typeof NAMED_ATTRIBUTES)[number][0];

const PATH_OPTIONS = {
  dataAttributeName: (ai: string): string | undefined => (aiEntry(ai)?.role === "data attribute" ? aiName(ai) : undefined),
};

// ---------------------------------------------------------------------------------------------------------------
// Parsing

/** The longest Digital Link (or path) the parser reads: every valid one is at most this many (ASCII) characters. */
export const MAX_LINK_LENGTH = MAX_INPUT;
/**
 * The longest a valid batch reference can be as one URL-encoded path segment (`/v1/batches/{id}/...`): every
 * character of a link percent-encoded, three characters each. The router refuses longer segments unread.
 */
export const MAX_ENCODED_LINK_LENGTH = 3 * MAX_LINK_LENGTH;

/**
 * Parses a GS1 Digital Link URI (`https://any.domain[/prefix]/01/{gtin}[/22/{cpv}][/10/{lot}][/21/{serial}][?…]`),
 * a bare path (`/01/…`), or either compressed (`https://any.domain[/prefix]/{compressed}`, or
 * `…/01/{gtin}/{compressed}`). GTIN-8/12/13 are normalised to 14 digits. Throws Gs1Error naming what to fix.
 */
export function parseDigitalLink(input: string): DigitalLink {
  const { origin, segments, query } = splitLink(input);

  const expanded = expandCompressed(origin, segments, query);
  if (expanded !== undefined) return { ...parseDigitalLink(expanded), compressed: true };

  const start = findGtin(segments);
  const keys = parsePathKeys(segments.slice(start), PATH_OPTIONS);
  const { attributes, linkType, params, ais } = parseQuery(query);
  checkPairing(["01", ...GTIN_QUALIFIERS.filter((ai) => qualifierValue(keys, ai) !== undefined), ...ais]);
  return {
    ...linkPathOf(origin, segments.slice(0, start), keys),
    attributes,
    ...(linkType === undefined ? {} : { linkType }),
    params,
    compressed: false,
  };
}

function qualifierValue(keys: LinkKeys, ai: (typeof GTIN_QUALIFIERS)[number]): string | undefined {
  return ai === "22" ? keys.variant : ai === "10" ? keys.lot : keys.serial;
}

/**
 * The uncompressed form of a compressed link (`{origin}{prefix}/{compressed}` or `…/01/{gtin}/{compressed}`), or
 * undefined when the path is not compressed. The uncompressed form is then parsed like any other link, so both
 * forms pass exactly the same checks and name the same batch.
 */
function expandCompressed(origin: string, segments: readonly string[], query: string): string | undefined {
  const last = segments.at(-1);
  if (last === undefined || isAiShaped(last) || !COMPRESSED_SEGMENT.test(last)) return undefined;
  const n = segments.length;
  const partial = n >= 3 && numericAi(segments[n - 3]!) === "01" && /^[0-9]+$/.test(segments[n - 2]!);
  // A path that names a GTIN is read uncompressed, so its errors say what is wrong with it; and an uncompressed
  // path's last segment is a value after an AI: never read that as compressed.
  if (!partial && segments.some((segment) => numericAi(segment) === "01")) return undefined;
  if (!partial && n >= 2 && isAiShaped(segments[n - 2]!)) return undefined;
  const prefix = segments.slice(0, partial ? n - 3 : n - 1);
  let decoded;
  try {
    decoded = decompress(last);
  } catch (err) {
    if (!(err instanceof Gs1Error) || partial) throw err;
    throw new Gs1Error(
      `no GTIN in the path: a Digital Link names the product as /01/{GTIN}, such as ${EXAMPLE} ` +
        `(nor is "${last}" a compressed Digital Link: ${err.message})`,
    );
  }
  const values = new Map<string, string>(partial ? [["01", segments[n - 2]!]] : []);
  for (const [ai, value] of decoded.ais) {
    if (values.has(ai)) throw new Gs1Error(`AI ${ai} (${aiName(ai)}) appears twice in the compressed Digital Link`);
    values.set(ai, value);
  }
  const gtin = values.get("01");
  if (gtin === undefined) {
    throw new Gs1Error(
      `the compressed Digital Link names no GTIN (AI 01); batches here are named by GTIN, such as ${EXAMPLE}`,
    );
  }
  let path = `/01/${gtin}`;
  for (const ai of GTIN_QUALIFIERS) {
    const value = values.get(ai);
    if (value !== undefined) path += `/${ai}/${percentEncode(value)}`;
  }
  const queryPairs: string[] = [];
  for (const [ai, value] of values) {
    if (ai !== "01" && !(GTIN_QUALIFIERS as readonly string[]).includes(ai)) queryPairs.push(`${ai}=${percentEncode(value)}`);
  }
  for (const [key, value] of decoded.other) queryPairs.push(`${percentEncode(key)}=${percentEncode(value)}`);
  if (query !== "") queryPairs.push(query);
  const stem = origin + (prefix.length > 0 ? `/${prefix.join("/")}` : "");
  return stem + path + (queryPairs.length > 0 ? `?${queryPairs.join("&")}` : "");
}

function parseQuery(query: string): {
  attributes: DataAttributes & { readonly other: Readonly<Record<string, string>> };
  linkType: string | undefined;
  params: Record<string, string>;
  ais: string[];
} {
  const byAi: Record<string, string> = {};
  const params: Record<string, string> = {};
  let linkType: string | undefined;
  for (const pair of query.split("&")) {
    if (pair === "") continue; // "?&17=…" and a trailing "&" carry nothing
    const eq = pair.indexOf("=");
    const key = formDecode(eq === -1 ? pair : pair.slice(0, eq), "query parameter name");
    const rawValue = eq === -1 ? "" : pair.slice(eq + 1);
    if (/^[0-9]+$/.test(key)) {
      const value = formDecode(rawValue, `AI ${key} (${aiName(key)})`);
      checkQueryAi(key, value, byAi);
      byAi[key] = value;
      continue;
    }
    const value = formDecode(rawValue, `query parameter "${key}"`);
    if (key === "linkType") {
      if (linkType !== undefined) throw new Gs1Error("query parameter linkType appears twice");
      linkType = value;
    } else {
      if (Object.hasOwn(params, key)) throw new Gs1Error(`query parameter "${key}" appears twice`);
      params[key] = value;
    }
  }
  return { attributes: toAttributes(byAi), linkType, params, ais: Object.keys(byAi) };
}

function checkQueryAi(ai: string, value: string, seen: Readonly<Record<string, string>>): void {
  if (ai.length < 2 || ai.length > 4) {
    throw new Gs1Error(`numeric query parameter "${ai}" is not a GS1 Application Identifier (2-4 digits)`);
  }
  const entry = aiEntry(ai);
  if (entry === undefined) {
    throw new Gs1Error(
      `AI ${ai} in the query string is not a data attribute this ledger accepts: GS1's AI table (digital-link.js ` +
        "toolkit) does not define it",
    );
  }
  if (ai === "01" || ai in QUALIFIER_NAMES) {
    throw new Gs1Error(`AI ${ai} (${aiName(ai)}) is a key or key qualifier: it belongs in the path, not the query`);
  }
  // GS1's parser would take a second primary key here (e.g. ?00=… beside /01/…); a batch page names one product.
  if (entry.role === "primary key") {
    throw new Gs1Error(`AI ${ai} (${aiName(ai)}) is a primary key and cannot qualify a GTIN`);
  }
  if (entry.role === "key qualifier") {
    throw new Gs1Error(`AI ${ai} (${aiName(ai)}) qualifies another primary key, not a GTIN`);
  }
  if (Object.hasOwn(seen, ai)) throw new Gs1Error(`AI ${ai} (${aiName(ai)}) appears twice in the query string`);
  if (value === "") throw new Gs1Error(`AI ${ai} (${aiName(ai)}) has an empty value`);
  checkAiValue(ai, value, aiName(ai));
}

function toAttributes(
  byAi: Readonly<Record<string, string>>,
): DataAttributes & { readonly other: Readonly<Record<string, string>> } {
  const named: Partial<Record<NamedAttribute, string>> = {};
  const other: Record<string, string> = {};
  for (const [ai, value] of Object.entries(byAi)) {
    const field = NAMED_ATTRIBUTES.find(([, a]) => a === ai)?.[0];
    if (field) named[field] = value;
    else other[ai] = value;
  }
  return { ...named, other };
}

// ---------------------------------------------------------------------------------------------------------------
// Formatting

/** Validates a resolver base (`https://domain[/prefix]`) and returns it without trailing slash. */
function checkBase(base: string): string {
  checkUriCharacters(base);
  const trimmed = base.replace(/\/+$/, "");
  if (/[?#]/.test(trimmed)) throw new Gs1Error(`base URL "${base}" must not have a query or fragment`);
  const { origin, path } = splitOrigin(trimmed);
  if (origin === "") throw new Gs1Error(`base URL "${base}" must be absolute, such as https://example.com`);
  return origin + path;
}

/** AI -> value for every data attribute given, validated. */
function attributesByAi(attributes: DataAttributes): Map<string, string> {
  const byAi = new Map<string, string>();
  for (const [field, ai] of NAMED_ATTRIBUTES) {
    const value = attributes[field];
    if (value !== undefined) byAi.set(ai, value);
  }
  for (const [ai, value] of Object.entries(attributes.other ?? {})) {
    if (byAi.has(ai)) throw new Gs1Error(`AI ${ai} (${aiName(ai)}) is given twice`);
    byAi.set(ai, value);
  }
  const seen: Record<string, string> = {};
  for (const [ai, value] of byAi) {
    checkQueryAi(ai, value, seen);
    seen[ai] = value;
  }
  return byAi;
}

/** Checks attributes given for a link with these keys against the pairing rules. */
function checkLinkPairing(keys: LinkKeys, byAi: ReadonlyMap<string, string>): void {
  checkPairing(["01", ...GTIN_QUALIFIERS.filter((ai) => qualifierValue(keys, ai) !== undefined), ...byAi.keys()]);
}

/**
 * The canonical Digital Link URI of a GTIN with its qualifiers and data attributes:
 * `{base}/01/{gtin14}[/22/{variant}][/10/{lot}][/21/{serial}][?{ai}={value}&…]`, data attributes in ascending AI
 * order, every value percent-encoded as the standard requires. Validates everything; round-trips through
 * parseDigitalLink.
 */
export function formatDigitalLink(base: string, keys: LinkKeys, attributes: DataAttributes = {}): string {
  const stem = checkBase(base);
  const checked = {
    gtin: normaliseGtin(keys.gtin),
    ...(keys.variant === undefined ? {} : { variant: checkQualifier("22", keys.variant) }),
    ...(keys.lot === undefined ? {} : { lot: checkLot(keys.lot) }),
    ...(keys.serial === undefined ? {} : { serial: checkSerial(keys.serial) }),
  };
  const byAi = attributesByAi(attributes);
  checkLinkPairing(checked, byAi);
  const query = [...byAi]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([ai, value]) => `${ai}=${percentEncode(value)}`)
    .join("&");
  const uri = stem + encodedPath(checked) + (query === "" ? "" : `?${query}`);
  // A base whose own path ends in AI-like pairs (".../01/123") would make the link ambiguous; refuse it here rather
  // than print a label that resolves to another product.
  const back = parseDigitalLink(uri);
  if (back.base !== stem) {
    throw new Gs1Error(`base URL "${base}" ends in path segments that read as GS1 AIs; choose another prefix`);
  }
  return uri;
}

/** Every AI of a parsed link with its value: the GTIN and its qualifiers in path order, then data attributes by AI. */
export function linkAis(link: DigitalLink): Pair[] {
  const out: Pair[] = [["01", link.gtin]];
  if (link.variant !== undefined) out.push(["22", link.variant]);
  if (link.lot !== undefined) out.push(["10", link.lot]);
  if (link.serial !== undefined) out.push(["21", link.serial]);
  const byAi = new Map<string, string>();
  for (const [field, ai] of NAMED_ATTRIBUTES) {
    const value = link.attributes[field];
    if (value !== undefined) byAi.set(ai, value);
  }
  for (const [ai, value] of Object.entries(link.attributes.other)) byAi.set(ai, value);
  return [...out, ...[...byAi].sort(([a], [b]) => (a < b ? -1 : 1))];
}

/**
 * The canonical query string of a parsed link, without "?": data attributes by AI, then linkType, then the other
 * parameters, every value percent-encoded. What a resolver redirects a compressed link to, after its `path`.
 */
export function canonicalQuery(link: DigitalLink): string {
  const pairs: Pair[] = linkAis(link).filter(([ai]) => !["01", "22", "10", "21"].includes(ai));
  if (link.linkType !== undefined) pairs.push(["linkType", link.linkType]);
  pairs.push(...Object.entries(link.params));
  return pairs.map(([k, v]) => `${percentEncode(k)}=${percentEncode(v)}`).join("&");
}

export interface CompressLinkOptions {
  /** Use GS1's codes for common AI sequences (default true). */
  readonly useSequences?: boolean;
  /** Compress non-GS1 query parameters too (default true); otherwise they stay in the query string as given. */
  readonly compressOtherParameters?: boolean;
}

/**
 * The compressed form of a Digital Link (GS1 Digital Link compression), keeping its base: every AI in one
 * URI-safe base64 segment, and the non-GS1 query parameters too unless `compressOtherParameters` is false. The link
 * is parsed (and so checked) first.
 */
export function compressDigitalLink(uri: string, options: CompressLinkOptions = {}): string {
  const link = parseDigitalLink(uri);
  const query = /\?([^#]*)/.exec(uri)?.[1] ?? "";
  const rawOther = query.split("&").filter((p) => p !== "" && !/^[0-9]+$/.test(formDecode(p.split("=", 1)[0]!, "name")));
  const other = rawOther.map((p): Pair => {
    const eq = p.indexOf("=");
    return [formDecode(eq === -1 ? p : p.slice(0, eq), "name"), formDecode(eq === -1 ? "" : p.slice(eq + 1), "value")];
  });
  const compressOther = options.compressOtherParameters ?? true;
  const segment = compress(
    { ais: linkAis(link), other: compressOther ? other : [] },
    { useSequences: options.useSequences ?? true },
  );
  const kept = compressOther || rawOther.length === 0 ? "" : `?${rawOther.join("&")}`;
  return `${link.base}/${segment}${kept}`;
}

/** The GS1 element string printed under a barcode as human-readable text: "(01)08801234000017(10)JJ-2611-A". */
export function elementString(keys: LinkKeys, attributes: DataAttributes = {}): string {
  let text = `(01)${normaliseGtin(keys.gtin)}`;
  if (keys.variant !== undefined) text += `(22)${checkQualifier("22", keys.variant)}`;
  if (keys.lot !== undefined) text += `(10)${checkLot(keys.lot)}`;
  if (keys.serial !== undefined) text += `(21)${checkSerial(keys.serial)}`;
  const byAi = attributesByAi(attributes);
  checkLinkPairing(keys, byAi);
  for (const [ai, value] of [...byAi].sort(([a], [b]) => (a < b ? -1 : 1))) {
    text += `(${ai})${value}`;
  }
  return text;
}

/**
 * A GS1 YYMMDD date as ISO 8601 ("2026-12-31"; "2026-12" when DD is 00), the century chosen by the sliding window
 * of the GS1 General Specifications §7.12 (from 49 years back to 50 years ahead of `today`'s year).
 */
export function gs1DateToIso(yymmdd: string, today: Date = new Date()): string {
  if (!/^[0-9]{6}$/.test(yymmdd)) throw new Gs1Error(`"${yymmdd}" is not a YYMMDD date`);
  checkAiValue("11", yymmdd, "date");
  const year = String(centuryOf(Number(yymmdd.slice(0, 2)), today.getUTCFullYear()));
  const month = yymmdd.slice(2, 4);
  const day = yymmdd.slice(4, 6);
  return day === "00" ? `${year}-${month}` : `${year}-${month}-${day}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Batch references (docs/ARCHITECTURE.md "Identifiers": every batch route accepts a Digital Link, a batchId, or gtin + lot)

const BATCH_ID = /^0x[0-9a-fA-F]{64}$/;

/**
 * Resolves a batch reference given as one string: a 0x-prefixed 32-byte hex batchId, or a Digital Link URI or path
 * that has a lot (a serial, if present, names an item of that batch and is ignored). Throws Gs1Error otherwise.
 */
export function parseBatchRef(input: string): BatchRef {
  if (typeof input !== "string" || input === "") {
    throw new Gs1Error("a batch reference is required: a Digital Link, a 0x batchId, or gtin and lot");
  }
  if (/^0x/i.test(input)) {
    if (!BATCH_ID.test(input)) {
      throw new Gs1Error(`batchId "${input}" must be 0x followed by 64 hex digits (32 bytes)`);
    }
    return { batchId: input.toLowerCase() };
  }
  if (!input.startsWith("/") && !/^https?:\/\//i.test(input)) {
    throw new Gs1Error(
      `"${input}" is not a batch reference: give a Digital Link (${EXAMPLE}), a 0x batchId, or gtin and lot`,
    );
  }
  const link = parseDigitalLink(input);
  if (!link.keys || !link.batchId) {
    throw new Gs1Error(`the Digital Link names GTIN ${link.gtin} but no lot; a batch needs /10/{lot} after the GTIN`);
  }
  return { batchId: link.batchId, keys: link.keys };
}

/** Resolves `?gtin=…&lot=…` (values as the HTTP layer decoded them, so no percent-decoding here). */
export function batchRefFromQuery(query: { readonly gtin?: unknown; readonly lot?: unknown }): BatchRef {
  const { gtin, lot } = query;
  if (typeof gtin !== "string" || typeof lot !== "string") {
    throw new Gs1Error("give both gtin and lot, once each, to name a batch");
  }
  const keys = batchKeys(gtin, lot);
  return { batchId: batchIdOf(keys), keys };
}
