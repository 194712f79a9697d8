/**
 * The URI plumbing of GS1 Digital Links (RFC 3986 as the Digital Link standard applies it): which characters may
 * appear, percent-encoding of AI values, form decoding of the query string, and splitting off scheme and host.
 * No AI table: the browser bundles use this through link-path.ts.
 */
import { Gs1Error } from "./keys.ts";

export const MAX_INPUT = 2048;
export const EXAMPLE = "https://example.com/01/09506000134352/10/LOT1 or /01/09506000134352/10/LOT1";

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

/**
 * Decodes a query-string name or value as an HTML form does, as GS1's resolvers and parsers read the query: `+` is a
 * space, `%2B` a plus sign. The path is not form-encoded: there `+` is itself.
 */
export function formDecode(text: string, what: string): string {
  return percentDecode(text.replaceAll("+", " "), what);
}

export function checkUriCharacters(input: string): void {
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

/** Splits `https://host[:port]/path` or `/path` into the part before the path and the path. */
export function splitOrigin(beforeQuery: string): { origin: string; path: string } {
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

/** A link taken apart: origin (scheme and host, lower-cased; "" for a bare path), path segments, raw query. */
export interface SplitLink {
  readonly origin: string;
  readonly segments: readonly string[];
  readonly query: string;
}

/** Checks a link's length and characters and takes it apart. Throws Gs1Error naming what to fix. */
export function splitLink(input: string): SplitLink {
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
  return { origin, segments: path === "" ? [] : path.slice(1).split("/"), query };
}
