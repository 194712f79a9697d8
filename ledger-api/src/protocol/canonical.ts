/**
 * Canonical JSON for event documents: RFC 8785 (JSON Canonicalization Scheme, JCS) and the document hash.
 *
 *   canonicalJson(doc) = JCS serialisation (members sorted by UTF-16 code units, ECMAScript number format,
 *                        minimal string escaping, no whitespace)
 *   docHash(doc)       = keccak256(utf8(canonicalJson(doc))), 0x-prefixed lowercase hex
 *
 * The signer commits to docHash inside its EIP-712 struct, so two parties must compute the same bytes from the same
 * document or a valid event is refused. The serialisation itself is delegated to `canonicalize` (a JCS
 * implementation); this module first refuses what JCS cannot carry faithfully, so a document either hashes the same
 * everywhere or fails loudly here instead of being silently altered:
 *
 * - NaN and +/-Infinity: no JSON representation (JSON.stringify would write `null`).
 * - Strings and member names holding a lone UTF-16 surrogate: not valid Unicode, so not encodable as UTF-8
 *   (Buffer would substitute U+FFFD and two different strings would collide).
 * - Numbers whose magnitude exceeds 2^53 - 1 (I-JSON, RFC 7493 section 2.2). They are exact doubles and JCS would
 *   print them deterministically, but a producer that parsed "9007199254740993" into an int64 or bigint hashes a
 *   different text than a parser that rounded it to a double: the same document, two hashes. Quantities, doses and
 *   measured values never need that range; identifiers (GTIN, declaration numbers) travel as strings. Callers that
 *   really want full IEEE 754 doubles pass `{ ieee754Numbers: true }`; the output for any accepted input is the same
 *   either way, only acceptance widens.
 * - Anything that is not plain JSON data: undefined, functions, symbols, bigint, sparse array holes, and objects
 *   that are not plain (Date, Map, class instances, anything with toJSON). JSON.stringify would drop or reshape them
 *   silently.
 *
 * -0 is accepted and serialises as `0`, as RFC 8785 section 3.2.2.3 requires; it therefore hashes like 0.
 *
 * Not covered here: duplicate member names in the incoming JSON text. JSON.parse keeps the last one silently, so the
 * layer that parses request bodies must refuse them if it needs to (I-JSON forbids them).
 */
import canonicalize from "canonicalize";
import { keccak256 as keccak_256 } from "../log/keccak.ts";
import { toHex } from "./eip712.ts";

/** A JSON value as JCS sees it: plain data only. */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | JsonObject;

/** A JSON object: plain, own, enumerable string-keyed members. */
export interface JsonObject {
  readonly [key: string]: JsonValue;
}

export interface CanonicalOptions {
  /** Accept numbers beyond the I-JSON range (|x| > 2^53 - 1). Default false; see the file comment. */
  readonly ieee754Numbers?: boolean;
}

/** The document cannot be canonicalised faithfully; `path` is a JSON Pointer (RFC 6901) to the offending value. */
export class CanonicalJsonError extends Error {
  readonly path: string;
  constructor(path: string, reason: string) {
    super(`${reason} at ${path === "" ? "the document root" : path}`);
    this.name = "CanonicalJsonError";
    this.path = path;
  }
}

/** RFC 8785 canonical form of `doc`; throws CanonicalJsonError for what JCS cannot represent faithfully. */
export function canonicalJson(doc: JsonValue, options: CanonicalOptions = {}): string {
  assertCanonicalisable(doc, options.ieee754Numbers === true);
  const text = canonicalize(doc);
  // Unreachable after validation (the root is never undefined); kept so a library change cannot yield "undefined".
  if (text === undefined) throw new CanonicalJsonError("", "value has no JSON representation");
  return text;
}

/** keccak256 of the UTF-8 bytes of the canonical form, as 0x-prefixed lowercase hex (the EIP-712 `docHash`). */
export function docHash(doc: JsonValue, options: CanonicalOptions = {}): string {
  return toHex(keccak_256(utf8.encode(canonicalJson(doc, options))));
}

const utf8 = new TextEncoder();

// With the u flag a surrogate pair is one code point, so only an unpaired surrogate matches \p{Cs}.
// (String.prototype.isWellFormed says the same but is ES2024, beyond this project's lib setting.)
const LONE_SURROGATE = /\p{Cs}/u;

function escapePointer(token: string): string {
  return token.replace(/~/g, "~0").replace(/\//g, "~1");
}

/**
 * Walks the document with an explicit stack, not recursion, so a deeply nested (hostile) document fails as data
 * rather than with a stack overflow; `canonicalize` is iterative for the same reason.
 */
function assertCanonicalisable(root: unknown, ieee754Numbers: boolean): void {
  // A frame either checks a value or, once a container's subtree is done, takes it off the current path.
  type Frame = { value: unknown; path: string } | { leave: object };
  const stack: Frame[] = [{ value: root, path: "" }];
  // Containers on the path from the root: a cycle (only a programmatic document can have one) is refused, while the
  // same object reached twice through different members is ordinary shared data and allowed.
  const onPath = new Set<object>();
  while (stack.length > 0) {
    const frame = stack.pop()!;
    if ("leave" in frame) {
      onPath.delete(frame.leave);
      continue;
    }
    const { value, path } = frame;
    switch (typeof value) {
      case "string":
        if (LONE_SURROGATE.test(value)) throw new CanonicalJsonError(path, "string holds a lone UTF-16 surrogate");
        continue;
      case "number":
        if (!Number.isFinite(value)) throw new CanonicalJsonError(path, `number ${value} has no JSON representation`);
        if (!ieee754Numbers && Math.abs(value) > Number.MAX_SAFE_INTEGER) {
          throw new CanonicalJsonError(path, `number ${value} is outside the I-JSON range (|x| <= 2^53 - 1)`);
        }
        continue;
      case "boolean":
        continue;
      case "object":
        break;
      default:
        throw new CanonicalJsonError(path, `${typeof value} is not JSON data`);
    }
    if (value === null) continue;
    if (onPath.has(value)) throw new CanonicalJsonError(path, "circular reference");
    onPath.add(value);
    stack.push({ leave: value });
    if (Array.isArray(value)) {
      // Pushed in reverse so the first offending element, in document order, is the one reported.
      for (let i = value.length - 1; i >= 0; i--) {
        if (!(i in value)) throw new CanonicalJsonError(`${path}/${i}`, "sparse array hole is not JSON data");
        stack.push({ value: value[i], path: `${path}/${i}` });
      }
      continue;
    }
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      throw new CanonicalJsonError(path, "object is not a plain JSON object");
    }
    if (typeof (value as { toJSON?: unknown }).toJSON === "function") {
      throw new CanonicalJsonError(path, "object with toJSON is not plain JSON data");
    }
    if (Object.getOwnPropertySymbols(value).length > 0) {
      throw new CanonicalJsonError(path, "object has symbol-keyed members");
    }
    const keys = Object.keys(value);
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i]!;
      const memberPath = `${path}/${escapePointer(key)}`;
      if (LONE_SURROGATE.test(key)) throw new CanonicalJsonError(memberPath, "member name holds a lone UTF-16 surrogate");
      stack.push({ value: (value as Record<string, unknown>)[key], path: memberPath });
    }
  }
}
