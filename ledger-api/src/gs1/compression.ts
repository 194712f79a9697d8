/**
 * GS1 Digital Link compression (GS1 Digital Link standard: URI syntax, "compressed GS1 Digital Link URIs"): AIs and
 * their values packed into a bit string, written in the URI-safe base64 alphabet as one path segment, e.g.
 * `https://example.com/HxHKVAdpQgZzjr-hCDKigI` for `/01/09780345418913/10/231/21/345345?15=120820`.
 *
 * The bit string is a sequence of entries, each opened by two hex digits:
 * - 00-99: the AI's first two digits; table P says how many more follow (one hex digit each); then the value per
 *   table F (numbers in binary, strings with a 3-bit encoding: 0 digits, 1 lower hex, 2 upper hex, 3 base64url,
 *   4 7-bit ASCII);
 * - a code of table Opt (e.g. 1F = 01, 10, 15): those AIs' values, in that order, with no AI digits;
 * - F then 7 bits: a non-GS1 key=value pair (key in base64url characters, value as above with a 7-bit length).
 * Trailing bits short of a whole entry are padding.
 *
 * Tables P, F and Opt are read at start-up from GS1's toolkit in the `digital-link.js` package (ai-table.ts), and
 * the codec follows the toolkit's algorithm (the same sequence choice, AI order and encodings), so both write the
 * same segment for the same input (test/api/gs1/compression.test.ts compares them). The codec is ours because the
 * toolkit's reads numbers with parseInt, and we part from it there, reading what the standard means:
 * - a numeric string keeps its leading zeros (the toolkit drops them when decoding: a lot "007" comes back "7", a
 *   price "0299" as "299") and digits past 2^53 stay exact;
 * - a segment that ends in the middle of a value, names an unallocated AI or an undefined code, or gives an AI
 *   twice is refused (the toolkit reads such input as "NaN", an empty value, or the last copy);
 * - a value longer than its table F length field can say is refused rather than written corrupt.
 */
import type { ToolkitValueFormat } from "digital-link.js/lib/GS1DigitalLinkCompressionPrototype/GS1DigitalLinkToolkit.js";
import { toolkit } from "./ai-table.ts";
import { Gs1Error } from "./keys.ts";

interface Tables {
  /** Table P: an AI's length in digits by its first two digits. */
  readonly lengthByPrefix: Readonly<Record<string, number>>;
  /** Table F: each AI's value components. */
  readonly formats: Readonly<Record<string, readonly ToolkitValueFormat[]>>;
  /** Table Opt: hex code -> the AIs it stands for, in the order their values follow. */
  readonly sequences: Readonly<Record<string, readonly string[]>>;
}

let tables: Tables | undefined;

function t(): Tables {
  const kit = toolkit();
  tables ??= { lengthByPrefix: kit.tableP, formats: kit.tableF, sequences: kit.tableOpt };
  return tables;
}

export type Pair = readonly [key: string, value: string];

/** AIs and non-GS1 key=value pairs, in the order they were coded. */
export interface Uncompressed {
  readonly ais: readonly Pair[];
  readonly other: readonly Pair[];
}

const BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const HEX = "0123456789ABCDEF";
export const COMPRESSED_SEGMENT = /^[A-Za-z0-9_-]+$/;

/** Bits for a length of at most `max` characters. */
function lengthBits(max: number): number {
  return Math.ceil(Math.log2(max) + 0.01);
}

/** Bits for a number of `digits` decimal digits. */
function valueBits(digits: number): number {
  return Math.ceil((digits * Math.log(10)) / Math.log(2) + 0.01);
}

// ---------------------------------------------------------------------------------------------------------------
// Reading

class BitReader {
  private cursor = 0;
  private readonly bits: string;
  constructor(bits: string) {
    this.bits = bits;
  }

  remaining(): number {
    return this.bits.length - this.cursor;
  }

  read(n: number): string {
    if (n > this.remaining()) throw new Gs1Error("the compressed Digital Link ends in the middle of a value");
    const out = this.bits.slice(this.cursor, this.cursor + n);
    this.cursor += n;
    return out;
  }

  int(n: number): number {
    return n === 0 ? 0 : parseInt(this.read(n), 2);
  }

  digits(count: number): string {
    if (count === 0) return "";
    const text = BigInt(`0b${this.read(valueBits(count))}`).toString();
    if (text.length > count) throw new Gs1Error(`the compressed Digital Link holds a number longer than ${count} digits`);
    return text.padStart(count, "0");
  }

  chars(encoding: number, count: number): string {
    switch (encoding) {
      case 0:
        return this.digits(count);
      case 1:
      case 2: {
        let s = "";
        for (let i = 0; i < count; i++) s += HEX[this.int(4)]!;
        return encoding === 1 ? s.toLowerCase() : s;
      }
      case 3: {
        let s = "";
        for (let i = 0; i < count; i++) s += BASE64URL[this.int(6)]!;
        return s;
      }
      case 4: {
        let s = "";
        for (let i = 0; i < count; i++) s += String.fromCharCode(this.int(7));
        return s;
      }
      default:
        throw new Gs1Error(`the compressed Digital Link uses string encoding ${encoding}, which GS1 does not define`);
    }
  }
}

function readValue(ai: string, reader: BitReader): string {
  const formats = Object.hasOwn(t().formats, ai) ? t().formats[ai] : undefined;
  if (formats === undefined) throw new Gs1Error(`AI ${ai} has no compressed form in GS1's compression table`);
  const lengthOf = (max: number): number => {
    const length = reader.int(lengthBits(max));
    if (length > max) throw new Gs1Error(`the compressed Digital Link gives AI ${ai} a part of ${length} characters; at most ${max}`);
    return length;
  };
  let value = "";
  for (const f of formats) {
    if (f.E === "N" && f.L !== undefined) value += reader.digits(Number(f.L));
    else if (f.E === "N" && f.M !== undefined) value += reader.digits(lengthOf(Number(f.M)));
    else if (f.E === "X" && f.L !== undefined) value += reader.chars(reader.int(3), Number(f.L));
    else if (f.E === "X" && f.M !== undefined) {
      const encoding = reader.int(3);
      value += reader.chars(encoding, lengthOf(Number(f.M)));
    } else throw new Gs1Error(`AI ${ai} has no usable compressed form in GS1's compression table`);
  }
  return value;
}

/** Decodes one compressed segment (URI-safe base64) into AIs and non-GS1 pairs. Throws Gs1Error. */
export function decompress(segment: string): Uncompressed {
  if (!COMPRESSED_SEGMENT.test(segment)) throw new Gs1Error(`"${segment}" is not a compressed Digital Link segment`);
  const reader = new BitReader(
    [...segment].map((c) => BASE64URL.indexOf(c).toString(2).padStart(6, "0")).join(""),
  );
  const ais: Pair[] = [];
  const other: Pair[] = [];
  while (reader.remaining() > 8) {
    const h1 = reader.int(4);
    const h2 = reader.int(4);
    if (h1 <= 9 && h2 <= 9) {
      let ai = `${h1}${h2}`;
      const length = Object.hasOwn(t().lengthByPrefix, ai) ? t().lengthByPrefix[ai] : undefined;
      if (length === undefined) throw new Gs1Error(`the compressed Digital Link names AI prefix ${ai}, which GS1 does not allocate`);
      while (ai.length < length) {
        const d = reader.int(4);
        if (d > 9) throw new Gs1Error(`the compressed Digital Link names a non-numeric AI ${ai}${HEX[d]}`);
        ai += String(d);
      }
      ais.push([ai, readValue(ai, reader)]);
    } else if (Object.hasOwn(t().sequences, HEX[h1]! + HEX[h2]!)) {
      for (const ai of t().sequences[HEX[h1]! + HEX[h2]!]!) ais.push([ai, readValue(ai, reader)]);
    } else if (h1 === 0xf) {
      const keyLength = h2 * 8 + reader.int(3);
      const key = reader.chars(3, keyLength);
      const encoding = reader.int(3);
      other.push([key, reader.chars(encoding, reader.int(7))]);
    } else {
      throw new Gs1Error(`the compressed Digital Link uses code ${HEX[h1]}${HEX[h2]}, which GS1 does not define`);
    }
  }
  const seen = new Set<string>();
  for (const [ai] of ais) {
    if (seen.has(ai)) throw new Gs1Error(`the compressed Digital Link gives AI ${ai} twice`);
    seen.add(ai);
  }
  return { ais, other };
}

// ---------------------------------------------------------------------------------------------------------------
// Writing

function bin(n: number | bigint, width: number): string {
  return n.toString(2).padStart(width, "0");
}

function encodingOf(text: string): number {
  if (/^[0-9]+$/.test(text)) return 0;
  if (/^[0-9A-F]+$/.test(text)) return 2;
  if (/^[0-9a-f]+$/.test(text)) return 1;
  if (COMPRESSED_SEGMENT.test(text)) return 3;
  return 4;
}

function writeChars(text: string, lengthField: string): string {
  const encoding = encodingOf(text);
  let body: string;
  if (encoding === 0) body = bin(BigInt(text), valueBits(text.length));
  else if (encoding === 1 || encoding === 2) body = [...text.toUpperCase()].map((c) => bin(HEX.indexOf(c), 4)).join("");
  else if (encoding === 3) body = [...text].map((c) => bin(BASE64URL.indexOf(c), 6)).join("");
  else {
    body = [...text]
      .map((c) => {
        const code = c.codePointAt(0)!;
        if (code > 0x7f) throw new Gs1Error(`"${c}" cannot be compressed: only 7-bit ASCII can`);
        return bin(code, 7);
      })
      .join("");
  }
  return bin(encoding, 3) + lengthField + body;
}

function writeValue(ai: string, value: string): string {
  const formats = Object.hasOwn(t().formats, ai) ? t().formats[ai] : undefined;
  if (formats === undefined) throw new Gs1Error(`AI ${ai} has no compressed form in GS1's compression table`);
  const unfit = (what: string): Gs1Error =>
    new Gs1Error(`AI ${ai} "${value}" cannot be compressed: ${what} (compression table format ${JSON.stringify(formats)})`);
  let out = "";
  let rest = value;
  for (const f of formats) {
    if (f.E === "N" && !/^[0-9]*$/.test(rest.slice(0, Number(f.L ?? rest.length)))) throw unfit("a numeric part has a non-digit");
    if (f.L !== undefined) {
      const part = rest.slice(0, Number(f.L));
      if (part.length < Number(f.L)) throw unfit(`a part is shorter than its fixed ${f.L} characters`);
      rest = rest.slice(part.length);
      out += f.E === "N" ? bin(BigInt(part), valueBits(part.length)) : writeChars(part, "");
    } else if (f.M !== undefined) {
      if (rest.length > Number(f.M)) throw unfit(`a part is longer than ${f.M} characters`);
      const length = bin(rest.length, lengthBits(Number(f.M)));
      out += f.E === "N" ? length + (rest === "" ? "" : bin(BigInt(rest), valueBits(rest.length))) : writeChars(rest, length);
      rest = "";
    } else throw new Gs1Error(`AI ${ai} has no usable compressed form in GS1's compression table`);
  }
  if (rest !== "") throw unfit("it is longer than its format");
  return out;
}

function hexCode(code: string): string {
  return [...code].map((c) => bin(HEX.indexOf(c), 4)).join("");
}

export interface CompressOptions {
  /** Use GS1's codes for common AI sequences (default true). */
  readonly useSequences?: boolean;
}

/**
 * Encodes AIs (values already checked) and non-GS1 pairs as one URI-safe base64 segment, the way GS1's reference
 * toolkit does: AIs in code-point order of their numbers, the longest matching sequence codes first.
 */
export function compress(input: Uncompressed, options: CompressOptions = {}): string {
  const values = new Map(input.ais);
  let remaining = [...values.keys()].sort();
  let bits = "";
  if (options.useSequences ?? true) {
    for (;;) {
      let best: [code: string, weight: number] | undefined;
      for (const [code, seq] of Object.entries(t().sequences)) {
        const weight = seq.join("").length;
        if (seq.every((ai) => remaining.includes(ai)) && weight > (best?.[1] ?? 0)) best = [code, weight];
      }
      if (best === undefined) break;
      const seq = t().sequences[best[0]]!;
      bits += hexCode(best[0]) + seq.map((ai) => writeValue(ai, values.get(ai)!)).join("");
      remaining = remaining.filter((ai) => !seq.includes(ai));
    }
  }
  for (const ai of remaining) bits += hexCode(ai) + writeValue(ai, values.get(ai)!);
  for (const [key, value] of input.other) {
    if (!COMPRESSED_SEGMENT.test(key) || key.length > 127) {
      throw new Gs1Error(`query parameter "${key}" cannot be compressed: keys are 1-127 characters A-Z a-z 0-9 - _`);
    }
    if (value.length > 127) throw new Gs1Error(`query parameter "${key}" is longer than 127 characters`);
    bits += "1111" + bin(key.length, 7) + [...key].map((c) => bin(BASE64URL.indexOf(c), 6)).join("");
    bits += writeChars(value, bin(value.length, 7));
  }
  bits += "0".repeat((6 - (bits.length % 6)) % 6);
  let out = "";
  for (let i = 0; i < bits.length; i += 6) out += BASE64URL[parseInt(bits.slice(i, i + 6), 2)]!;
  return out;
}
