/**
 * GS1 Digital Link URIs (GS1 Digital Link Standard: URI Syntax 1.2 and later; ISO/IEC 18975) for the keys this
 * ledger names batches by: GTIN (AI 01) with its key qualifiers consumer product variant (22), batch/lot (10) and
 * serial (21), plus data attributes such as expiry (17) in the query string.
 *
 * What this module guarantees:
 * - `parseDigitalLink` accepts exactly one reading of a link: any http(s) domain and any path prefix before the
 *   GTIN, qualifiers in the order the standard's ABNF fixes (gtin-path = /01/gtin [/22/cpv] [/10/lot] [/21/ser]),
 *   every AI value checked against its GS1 format (check digits, character set 82, lengths, real dates), every
 *   percent-escape well formed, no AI twice. Anything else is a Gs1Error whose message says what to change.
 * - `formatDigitalLink` writes the one canonical form: numeric AIs (never the deprecated convenience alphas such
 *   as /gtin/), the GTIN as 14 digits, and every AI value character outside RFC 3986 "unreserved" percent-encoded
 *   with upper-case hex. Its output parses back to the same keys and attributes.
 *
 * Trap: the on-chain batchId hashes the *unencoded* path `/01/{gtin14}/10/{lot}` (see keys.ts), not the encoded
 * path a URI carries. A lot such as `A/1` appears as `/10/A%2F1` in the URI but `/10/A/1` in the hashed string, so
 * never hash a path taken from a URI; parse it and use `batchId` / `canonicalPath` from the result.
 */
import { Gs1Error, batchIdOf, batchKeys, canonicalPath, checkCset82, checkLot, checkSerial, normaliseGtin } from "./keys.ts";
import type { BatchKeys } from "./keys.ts";

// ---------------------------------------------------------------------------------------------------------------
// Types

/**
 * Data attributes: AIs that describe the item rather than identify it; the standard puts them in the query string.
 * Dates are GS1 YYMMDD strings, kept as written (DD may be 00 where the AI allows "no day", see the Syntax
 * Dictionary's yymmd0); use `gs1DateToIso` to show one.
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

/** The keys a Digital Link can carry for a GTIN. `BatchKeys` is one. */
export interface LinkKeys {
  readonly gtin: string;
  /** AI 22, consumer product variant. */
  readonly variant?: string;
  readonly lot?: string;
  readonly serial?: string;
}

/** A parsed, validated GS1 Digital Link. */
export interface DigitalLink {
  /**
   * Everything before `/01/`: `https://example.com` or `https://example.com/resolver`, without trailing slash;
   * for a bare path input, the path prefix alone (usually "").
   */
  readonly base: string;
  /** GTIN normalised to 14 digits. */
  readonly gtin: string;
  readonly variant?: string;
  readonly lot?: string;
  readonly serial?: string;
  /** Always present; `other` is always present too (possibly empty) so results compare cleanly. */
  readonly attributes: DataAttributes & { readonly other: Readonly<Record<string, string>> };
  /** The `linkType` query parameter (e.g. "gs1:pip"), which asks a resolver for one kind of link. */
  readonly linkType?: string;
  /** Non-GS1 query parameters other than linkType (e.g. "context", "lang"), decoded. */
  readonly params: Readonly<Record<string, string>>;
  /** The batch's keys, when the link has a lot. */
  readonly keys?: BatchKeys;
  /** keccak256 of `canonicalPath`, when the link has a lot. */
  readonly batchId?: string;
  /**
   * UNENCODED `/01/{gtin14}/10/{lot}` (or `/01/{gtin14}` without a lot): the string the on-chain batchId hashes.
   * Never includes the serial or variant. Not a URI path; see `path`.
   */
  readonly canonicalPath: string;
  /** The canonical percent-encoded Digital Link path with every key qualifier, e.g. `/01/…/10/A%2F1/21/7`. */
  readonly path: string;
}

/** What an API route resolves a batch reference to. `keys` is absent when the caller gave only the batchId. */
export interface BatchRef {
  readonly batchId: string;
  readonly keys?: BatchKeys;
}

// ---------------------------------------------------------------------------------------------------------------
// AI tables (GS1 Barcode Syntax Dictionary; the path grammar is the Digital Link standard's ABNF)

/** Key qualifiers of GTIN in the only order the ABNF's gtin-path allows. AI 235 (TPX) is a separate path shape. */
const GTIN_QUALIFIERS = ["22", "10", "21"] as const;
type GtinQualifier = (typeof GTIN_QUALIFIERS)[number];

const QUALIFIER_NAMES: Record<GtinQualifier, string> = { "22": "consumer product variant", "10": "lot", "21": "serial" };

/**
 * Convenience alphas of URI Syntax 1.0/1.1, deprecated since 1.2 (GS1 now asks for numeric AIs only). Accepted on
 * input so labels printed under the old rules still resolve; never written.
 */
const CONVENIENCE_ALPHAS: Readonly<Record<string, string>> = { gtin: "01", cpv: "22", lot: "10", ser: "21" };

/** Digital Link primary keys other than GTIN: named in messages, because this ledger identifies batches by GTIN. */
const OTHER_PRIMARY_KEYS: Readonly<Record<string, string>> = {
  "00": "SSCC",
  "253": "GDTI",
  "255": "GCN",
  "401": "GINC",
  "402": "GSIN",
  "414": "GLN",
  "417": "party GLN",
  "8003": "GRAI",
  "8004": "GIAI",
  "8006": "ITIP",
  "8010": "CPID",
  "8013": "GMN",
  "8017": "GSRN (provider)",
  "8018": "GSRN (recipient)",
};

/**
 * A data attribute's format in the Syntax Dictionary's notation: space-separated components `N6`, `X..20`,
 * optional ones in brackets, each with an optional linter (`yymmd0` = date whose day may be 00, `yymmdd`).
 */
interface AttributeFormat {
  readonly name: string;
  readonly spec: string;
}

/**
 * The data attributes this ledger understands: the ones a food label or a shopper's scan can carry. A numeric query
 * key outside this table is refused rather than passed through unchecked, because an AI we cannot validate is one
 * we cannot vouch for on a provenance page. Extend here (from the Syntax Dictionary) when a new one is needed.
 */
const ATTRIBUTES: ReadonlyMap<string, AttributeFormat> = new Map<string, AttributeFormat>([
  ["11", { name: "production date", spec: "N6,yymmd0" }],
  ["13", { name: "packaging date", spec: "N6,yymmd0" }],
  ["15", { name: "best before date", spec: "N6,yymmd0" }],
  ["16", { name: "sell by date", spec: "N6,yymmd0" }],
  ["17", { name: "expiry date", spec: "N6,yymmd0" }],
  ["20", { name: "internal product variant", spec: "N2" }],
  ["30", { name: "variable count", spec: "N..8" }],
  ["240", { name: "additional product id", spec: "X..30" }],
  ["241", { name: "customer part number", spec: "X..30" }],
  ["251", { name: "reference to source entity", spec: "X..30" }],
  ["422", { name: "country of origin", spec: "N3" }],
  ["423", { name: "country of initial processing", spec: "N3 [N3] [N3] [N3] [N3]" }],
  ["424", { name: "country of processing", spec: "N3" }],
  ["425", { name: "country of disassembly", spec: "N3 [N3] [N3] [N3] [N3]" }],
  ["426", { name: "country covering full process chain", spec: "N3" }],
  ["427", { name: "country subdivision of origin", spec: "X..3" }],
  ["7005", { name: "catch area", spec: "X..12" }],
  ["7006", { name: "first freeze date", spec: "N6,yymmdd" }],
  ["7007", { name: "harvest date", spec: "N6,yymmdd [N6],yymmdd" }],
  ["7008", { name: "aquatic species", spec: "X..3" }],
  ["7009", { name: "fishing gear type", spec: "X..10" }],
  ["7010", { name: "production method", spec: "X..2" }],
  ["8008", { name: "production date and time", spec: "N6,yymmdd N2,hh [N2],mi [N2],ss" }],
  ["90", { name: "internal (mutually agreed)", spec: "X..30" }],
  // Variable-measure net weight / volume: 310n kg, 320n lb, 315n l, 316n m3 (n = decimal places).
  ...[..."012345"].flatMap((n) => [
    [`310${n}`, { name: `net weight, kg (${n} decimals)`, spec: "N6" }] as const,
    [`320${n}`, { name: `net weight, lb (${n} decimals)`, spec: "N6" }] as const,
    [`315${n}`, { name: `net volume, l (${n} decimals)`, spec: "N6" }] as const,
    [`316${n}`, { name: `net volume, m3 (${n} decimals)`, spec: "N6" }] as const,
  ]),
  ...[..."123456789"].map((n) => [`9${n}`, { name: "company internal", spec: "X..90" }] as const),
]);

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

// ---------------------------------------------------------------------------------------------------------------
// Percent-encoding (RFC 3986 §2.1, as the Digital Link standard applies it to AI values)

/**
 * RFC 3986 "unreserved": the only characters an AI value may carry unencoded. The standard's ABNF lists every
 * other character of set 82 (! " % & ' ( ) * + , / : ; < = > ?) in percent-encoded form only, so a value such as
 * `A/1` can never be mistaken for a path separator, nor `a&b` or `x=y` for query syntax.
 */
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/** Characters that may appear literally anywhere in a URI (RFC 3986 §2.2-2.3, plus % for escapes). */
const URI_CHAR = /^[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]$/;

/** Percent-encodes an AI value: UTF-8 bytes, every byte outside "unreserved" as %XX with upper-case hex. */
export function percentEncode(value: string): string {
  let out = "";
  for (const byte of new TextEncoder().encode(value)) {
    const char = String.fromCharCode(byte);
    out += byte < 0x80 && UNRESERVED.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/**
 * Decodes percent-escapes. A `%` not followed by two hex digits is refused rather than kept literally (as some
 * decoders do), because then `%25` and `%` would name the same lot and two batch ids could exist for one label.
 */
export function percentDecode(text: string, what: string): string {
  for (let i = text.indexOf("%"); i !== -1; i = text.indexOf("%", i + 1)) {
    const escape = text.slice(i, i + 3);
    if (!/^%[0-9A-Fa-f]{2}$/.test(escape)) {
      throw new Gs1Error(
        `${what}: "${escape}" in "${text}" is not a percent-escape (% and two hex digits); write a literal % as %25`,
      );
    }
  }
  try {
    return decodeURIComponent(text);
  } catch {
    throw new Gs1Error(`${what}: the percent-escapes in "${text}" do not decode to UTF-8 text`);
  }
}

function checkUriCharacters(input: string): void {
  let position = 0;
  for (const char of input) {
    position++;
    if (!URI_CHAR.test(char)) {
      const shown = char.codePointAt(0)! < 0x20 ? `U+${char.codePointAt(0)!.toString(16).padStart(4, "0")}` : char;
      throw new Gs1Error(
        `character "${shown}" at position ${position} cannot appear in a URI; percent-encode it as ${percentEncode(char)}`,
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Value checks

/** Days in a month of a YY year. Every YY read through GS1's sliding century window (General Specifications
 * §7.12, at most 50 years ahead / 49 back) lands in 1977..2076, where "divisible by 4" is exactly the leap rule. */
function daysInMonth(yy: number, mm: number): number {
  return mm === 2 ? (yy % 4 === 0 ? 29 : 28) : [4, 6, 9, 11].includes(mm) ? 30 : 31;
}

function checkDate(value: string, allowDayZero: boolean, label: string): void {
  const yy = Number(value.slice(0, 2));
  const mm = Number(value.slice(2, 4));
  const dd = Number(value.slice(4, 6));
  if (mm < 1 || mm > 12) throw new Gs1Error(`${label} "${value}" has month ${value.slice(2, 4)}; YYMMDD needs 01-12`);
  if (dd === 0 && allowDayZero) return;
  const max = daysInMonth(yy, mm);
  if (dd < 1 || dd > max) {
    throw new Gs1Error(
      `${label} "${value}" has day ${value.slice(4, 6)}; month ${value.slice(2, 4)} of year ${value.slice(0, 2)} ` +
        `has days 01-${max}${allowDayZero ? " (or 00 when the day is unknown)" : ""}`,
    );
  }
}

const LINTERS: Readonly<Record<string, (v: string, label: string) => void>> = {
  yymmd0: (v, label) => checkDate(v, true, label),
  yymmdd: (v, label) => checkDate(v, false, label),
  hh: (v, label) => {
    if (Number(v) > 23) throw new Gs1Error(`${label}: hour "${v}" must be 00-23`);
  },
  mi: (v, label) => {
    if (Number(v) > 59) throw new Gs1Error(`${label}: minutes "${v}" must be 00-59`);
  },
  ss: (v, label) => {
    if (Number(v) > 59) throw new Gs1Error(`${label}: seconds "${v}" must be 00-59`);
  },
};

/** Checks a value against a Syntax Dictionary spec such as "N6,yymmdd [N6],yymmdd" or "X..30". */
function checkAttribute(ai: string, format: AttributeFormat, value: string): void {
  const label = `${format.name} (AI ${ai})`;
  let rest = value;
  for (const component of format.spec.split(" ")) {
    const m = /^(\[)?([NX])(\.\.)?(\d+)\]?(?:,(\w+))?$/.exec(component);
    if (!m) throw new Error(`bad spec ${format.spec}`); // a bug in ATTRIBUTES, not in the input
    const [, optional, kind, variable, size, linter] = m;
    const max = Number(size);
    if (rest === "" && optional) break;
    const length = variable ? Math.min(rest.length, max) : max;
    const part = rest.slice(0, length);
    if (part.length < (variable ? 1 : max)) {
      throw new Gs1Error(`${label} "${value}" is too short: format ${format.spec} (N = digit, ..n = up to n)`);
    }
    if (kind === "N" && !/^[0-9]+$/.test(part)) {
      throw new Gs1Error(`${label} "${value}" must be digits only (format ${format.spec})`);
    }
    if (kind === "X") checkCset82(part, ai, format.name, max);
    if (linter) LINTERS[linter]?.(part, label);
    rest = rest.slice(length);
  }
  if (rest !== "") throw new Gs1Error(`${label} "${value}" is too long: format ${format.spec}`);
}

function checkQualifier(ai: GtinQualifier, value: string): string {
  switch (ai) {
    case "22":
      return checkCset82(value, "22", "consumer product variant", 20);
    case "10":
      return checkLot(value);
    case "21":
      return checkSerial(value);
  }
}

function aiName(ai: string): string {
  if (ai === "01") return "GTIN";
  if (ai in QUALIFIER_NAMES) return QUALIFIER_NAMES[ai as GtinQualifier];
  return ATTRIBUTES.get(ai)?.name ?? OTHER_PRIMARY_KEYS[ai] ?? "unknown";
}

// ---------------------------------------------------------------------------------------------------------------
// Parsing

const MAX_INPUT = 2048;
const EXAMPLE = "https://example.com/01/09506000134352/10/LOT1 or /01/09506000134352/10/LOT1";

function isAiShaped(segment: string): boolean {
  return /^[0-9]{2,4}$/.test(segment) || segment in CONVENIENCE_ALPHAS;
}

function numericAi(segment: string): string {
  return CONVENIENCE_ALPHAS[segment] ?? segment;
}

/** Splits `https://host[:port]/path` or `/path` into the part before the path and the path. */
function splitOrigin(beforeQuery: string): { origin: string; path: string } {
  if (beforeQuery.startsWith("/")) {
    if (beforeQuery.startsWith("//")) throw new Gs1Error(`"${beforeQuery}" starts with "//"; a path starts with one "/"`);
    return { origin: "", path: beforeQuery };
  }
  const m = /^(https?):\/\/([^/]*)(\/.*)?$/i.exec(beforeQuery);
  if (!m) throw new Gs1Error(`not a GS1 Digital Link: expected an http(s) URI or a path, such as ${EXAMPLE}`);
  const [, scheme, authority = "", path = ""] = m;
  if (!/^([A-Za-z0-9\-.]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?$/.test(authority)) {
    throw new Gs1Error(`"${authority}" is not a domain name, IP address or host:port`);
  }
  // Scheme and host are case-insensitive (RFC 3986 §6.2.2.1): lower-case them so one batch has one canonical URI.
  return { origin: `${scheme!.toLowerCase()}://${authority.toLowerCase()}`, path };
}

/**
 * Parses a GS1 Digital Link URI (`https://any.domain[/prefix]/01/{gtin}[/22/{cpv}][/10/{lot}][/21/{serial}][?…]`)
 * or a bare path (`/01/…`). GTIN-8/12/13 are normalised to 14 digits. Throws Gs1Error naming what to fix.
 */
export function parseDigitalLink(input: string): DigitalLink {
  if (typeof input !== "string" || input === "") throw new Gs1Error(`a Digital Link is required, such as ${EXAMPLE}`);
  if (input.length > MAX_INPUT) throw new Gs1Error(`a Digital Link is at most ${MAX_INPUT} characters`);
  checkUriCharacters(input);

  // The fragment is for the client, never sent to a resolver (RFC 3986 §3.5); the query holds data attributes.
  const beforeFragment = input.split("#", 1)[0]!;
  const q = beforeFragment.indexOf("?");
  const beforeQuery = q === -1 ? beforeFragment : beforeFragment.slice(0, q);
  const query = q === -1 ? "" : beforeFragment.slice(q + 1);

  const { origin, path: rawPath } = splitOrigin(beforeQuery);
  // A single trailing slash is tolerated as GS1's reference toolkit does; it carries no AI.
  const path = rawPath.length > 1 && rawPath.endsWith("/") ? rawPath.slice(0, -1) : rawPath;
  const segments = path === "" ? [] : path.slice(1).split("/");

  const start = findGtin(segments);
  const prefix = segments.slice(0, start);
  const base = origin + (prefix.length > 0 ? `/${prefix.join("/")}` : "");

  const keys = parsePathKeys(segments.slice(start));
  const { attributes, linkType, params } = parseQuery(query);

  const gtin = keys.gtin;
  const lot = keys.lot;
  const batch = lot === undefined ? undefined : batchKeys(gtin, lot);
  return {
    base,
    gtin,
    ...(keys.variant === undefined ? {} : { variant: keys.variant }),
    ...(lot === undefined ? {} : { lot }),
    ...(keys.serial === undefined ? {} : { serial: keys.serial }),
    attributes,
    ...(linkType === undefined ? {} : { linkType }),
    params,
    ...(batch === undefined ? {} : { keys: batch, batchId: batchIdOf(batch) }),
    canonicalPath: batch === undefined ? `/01/${gtin}` : canonicalPath(batch),
    path: encodedPath(keys),
  };
}

/**
 * Index of the `01` segment that starts the Digital Link part of the path. Like GS1's reference parsers, walk back
 * from the end over `/AI/value` pairs, so a prefix such as `/products/2024` is never read as AIs; unlike them, keep
 * walking to the earliest `01`, so `/01/A/01/B` is a duplicate GTIN rather than prefix `/01/A`. If the pairs do not
 * line up (a value is missing), fall back to the last `01` and let the forward parse say what is wrong.
 */
function findGtin(segments: readonly string[]): number {
  let start: number | undefined;
  let otherKey: string | undefined;
  for (let i = segments.length - 2; i >= 0; i -= 2) {
    const ai = segments[i]!;
    if (!isAiShaped(ai)) break;
    const numeric = numericAi(ai);
    if (numeric === "01") start = i;
    else if (numeric in OTHER_PRIMARY_KEYS) otherKey ??= numeric;
  }
  if (start !== undefined) return start;
  const last = segments.findLastIndex((s) => numericAi(s) === "01");
  if (last !== -1) return last;
  if (otherKey !== undefined) {
    throw new Gs1Error(
      `the link's primary key is AI ${otherKey} (${OTHER_PRIMARY_KEYS[otherKey]}); batches here are named by GTIN ` +
        `(AI 01), such as ${EXAMPLE}`,
    );
  }
  throw new Gs1Error(`no GTIN in the path: a Digital Link names the product as /01/{GTIN}, such as ${EXAMPLE}`);
}

function parsePathKeys(pairs: readonly string[]): LinkKeys & { readonly gtin: string } {
  let gtin = "";
  const qualifiers: Partial<Record<GtinQualifier, string>> = {};
  let lastRank = -1;
  for (let k = 0; k < pairs.length; k += 2) {
    const rawAi = pairs[k]!;
    const rawValue = pairs[k + 1];
    if (!isAiShaped(rawAi)) {
      throw new Gs1Error(
        `path segment "${rawAi}" after the GTIN is not a GS1 Application Identifier; after /01/{gtin} only ` +
          "/22/{variant}, /10/{lot} and /21/{serial} may follow, in that order",
      );
    }
    const ai = numericAi(rawAi);
    if (rawValue === undefined) throw new Gs1Error(`AI ${ai} (${aiName(ai)}) at the end of the path has no value`);
    const value = percentDecode(rawValue, `AI ${ai} (${aiName(ai)})`);
    if (value === "") throw new Gs1Error(`AI ${ai} (${aiName(ai)}) has an empty value`);

    if (k === 0) {
      gtin = normaliseGtin(value);
      continue;
    }
    const rank = GTIN_QUALIFIERS.indexOf(ai as GtinQualifier);
    if (rank === -1) throw new Gs1Error(misplacedPathAi(ai));
    const qualifier = ai as GtinQualifier;
    if (qualifiers[qualifier] !== undefined) {
      throw new Gs1Error(`AI ${ai} (${QUALIFIER_NAMES[qualifier]}) appears twice in the path`);
    }
    if (rank < lastRank) {
      const before = GTIN_QUALIFIERS[lastRank]!;
      throw new Gs1Error(
        `AI ${ai} (${QUALIFIER_NAMES[qualifier]}) must come before AI ${before} (${QUALIFIER_NAMES[before]}); ` +
          "the order is /01/{gtin}/22/{variant}/10/{lot}/21/{serial}",
      );
    }
    lastRank = rank;
    qualifiers[qualifier] = checkQualifier(qualifier, value);
  }
  return {
    gtin,
    ...(qualifiers["22"] === undefined ? {} : { variant: qualifiers["22"] }),
    ...(qualifiers["10"] === undefined ? {} : { lot: qualifiers["10"] }),
    ...(qualifiers["21"] === undefined ? {} : { serial: qualifiers["21"] }),
  };
}

function misplacedPathAi(ai: string): string {
  if (ai === "01") return "AI 01 (GTIN) appears twice in the path";
  if (ATTRIBUTES.has(ai)) {
    return `AI ${ai} (${aiName(ai)}) is a data attribute: it belongs in the query string (?${ai}=…), not the path`;
  }
  if (ai === "235") return "AI 235 (third-party serial extension, TPX) is not supported by this ledger";
  if (ai in OTHER_PRIMARY_KEYS) return `AI ${ai} (${OTHER_PRIMARY_KEYS[ai]}) is a primary key and cannot follow a GTIN`;
  return (
    `unknown AI ${ai} in the path: after /01/{gtin} only 22 (consumer product variant), 10 (lot) and 21 (serial) ` +
    "may follow, in that order"
  );
}

function parseQuery(query: string): {
  attributes: DataAttributes & { readonly other: Readonly<Record<string, string>> };
  linkType: string | undefined;
  params: Record<string, string>;
} {
  const byAi: Record<string, string> = {};
  const params: Record<string, string> = {};
  let linkType: string | undefined;
  for (const pair of query.split("&")) {
    if (pair === "") continue; // "?&17=…" and a trailing "&" carry nothing
    const eq = pair.indexOf("=");
    const key = percentDecode(eq === -1 ? pair : pair.slice(0, eq), "query parameter name");
    const rawValue = eq === -1 ? "" : pair.slice(eq + 1);
    if (/^[0-9]+$/.test(key)) {
      const value = percentDecode(rawValue, `AI ${key} (${aiName(key)})`);
      checkQueryAi(key, value, byAi);
      byAi[key] = value;
      continue;
    }
    const value = percentDecode(rawValue, `query parameter "${key}"`);
    if (key === "linkType") {
      if (linkType !== undefined) throw new Gs1Error("query parameter linkType appears twice");
      linkType = value;
    } else {
      if (Object.hasOwn(params, key)) throw new Gs1Error(`query parameter "${key}" appears twice`);
      params[key] = value;
    }
  }
  return { attributes: toAttributes(byAi), linkType, params };
}

function checkQueryAi(ai: string, value: string, seen: Readonly<Record<string, string>>): void {
  if (ai.length < 2 || ai.length > 4) {
    throw new Gs1Error(`numeric query parameter "${ai}" is not a GS1 Application Identifier (2-4 digits)`);
  }
  if (ai === "01" || ai in QUALIFIER_NAMES) {
    throw new Gs1Error(`AI ${ai} (${aiName(ai)}) is a key or key qualifier: it belongs in the path, not the query`);
  }
  if (ai in OTHER_PRIMARY_KEYS) {
    throw new Gs1Error(`AI ${ai} (${OTHER_PRIMARY_KEYS[ai]}) is a primary key and cannot qualify a GTIN`);
  }
  const format = ATTRIBUTES.get(ai);
  if (!format) throw new Gs1Error(`AI ${ai} in the query string is not a data attribute this ledger accepts`);
  if (Object.hasOwn(seen, ai)) throw new Gs1Error(`AI ${ai} (${format.name}) appears twice in the query string`);
  if (value === "") throw new Gs1Error(`AI ${ai} (${format.name}) has an empty value`);
  checkAttribute(ai, format, value);
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

function encodedPath(keys: LinkKeys & { readonly gtin: string }): string {
  let path = `/01/${keys.gtin}`;
  if (keys.variant !== undefined) path += `/22/${percentEncode(keys.variant)}`;
  if (keys.lot !== undefined) path += `/10/${percentEncode(keys.lot)}`;
  if (keys.serial !== undefined) path += `/21/${percentEncode(keys.serial)}`;
  return path;
}

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
  const query = [...attributesByAi(attributes)]
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

/** The GS1 element string printed under a barcode as human-readable text: "(01)08801234000017(10)JJ-2611-A". */
export function elementString(keys: LinkKeys, attributes: DataAttributes = {}): string {
  let text = `(01)${normaliseGtin(keys.gtin)}`;
  if (keys.variant !== undefined) text += `(22)${checkQualifier("22", keys.variant)}`;
  if (keys.lot !== undefined) text += `(10)${checkLot(keys.lot)}`;
  if (keys.serial !== undefined) text += `(21)${checkSerial(keys.serial)}`;
  for (const [ai, value] of [...attributesByAi(attributes)].sort(([a], [b]) => (a < b ? -1 : 1))) {
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
  checkDate(yymmdd, true, "date");
  const current = today.getUTCFullYear();
  const yy = Number(yymmdd.slice(0, 2));
  const diff = yy - (current % 100);
  const century = Math.floor(current / 100) + (diff >= 51 ? -1 : diff <= -50 ? 1 : 0);
  const year = String(century * 100 + yy);
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
