/**
 * GS1 keys of a batch: GTIN (AI 01) and batch/lot (AI 10), and the identifiers derived from them.
 *
 * The canonical name of a batch is its GS1 Digital Link path `/01/{gtin14}/10/{lot}` (lot percent-encoded as the
 * Digital Link standard requires); the on-chain `batchId` is keccak256 of that path's UTF-8 bytes, computed over the
 * *unencoded* lot so that the contract, which sees the raw lot, derives the same id. The contract enforces the same
 * GTIN and lot rules as this file.
 */
import { keccak256, toUtf8Bytes } from "ethers";

/** GS1 AI encodable character set 82, which AI 10 (batch/lot) is drawn from. */
const CSET82 = /^[!"%&'()*+,\-./0-9:;<=>?A-Z_a-z]+$/;

export class Gs1Error extends Error {
  override readonly name = "Gs1Error";
}

/** GS1 mod-10 check digit of the digits before it (weights 3,1,3,... from the right). */
export function gs1CheckDigit(body: string): number {
  let sum = 0;
  for (let i = 0; i < body.length; i++) {
    const digit = body.charCodeAt(body.length - 1 - i) - 48;
    sum += digit * (i % 2 === 0 ? 3 : 1);
  }
  return (10 - (sum % 10)) % 10;
}

/**
 * Normalises a GTIN-8, -12, -13 or -14 to 14 digits (left-padded with zeros) after checking its check digit.
 * Throws Gs1Error with a message a producer can act on.
 */
export function normaliseGtin(gtin: string): string {
  if (!/^[0-9]+$/.test(gtin) || ![8, 12, 13, 14].includes(gtin.length)) {
    throw new Gs1Error(`GTIN must be 8, 12, 13 or 14 digits, got "${gtin}"`);
  }
  const expected = gs1CheckDigit(gtin.slice(0, -1));
  if (Number(gtin.at(-1)) !== expected) {
    throw new Gs1Error(`GTIN ${gtin} has check digit ${gtin.at(-1)}, expected ${expected}`);
  }
  return gtin.padStart(14, "0");
}

/**
 * Checks a value against a GS1 "X..max" format: 1..max characters of character set 82. The message names the AI, the
 * length or the first offending character and its position, so a producer can fix the label data without guessing.
 */
export function checkCset82(value: string, ai: string, name: string, max: number): string {
  if (value.length < 1) throw new Gs1Error(`${name} (AI ${ai}) is empty; it needs 1-${max} characters`);
  if (value.length > max) {
    throw new Gs1Error(`${name} (AI ${ai}) "${value}" is ${value.length} characters; at most ${max} are allowed`);
  }
  if (!CSET82.test(value)) {
    const at = [...value].findIndex((c) => !CSET82.test(c));
    const bad = [...value][at] ?? "";
    const code = `U+${(bad.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}`;
    throw new Gs1Error(
      `${name} (AI ${ai}) "${value}" has ${JSON.stringify(bad)} (${code}) at position ${at + 1}, ` +
        "which is not in the GS1 character set 82 (A-Z a-z 0-9 and ! \" % & ' ( ) * + , - . / : ; < = > ? _)",
    );
  }
  return value;
}

/** Checks a batch/lot against AI 10's rules: 1-20 characters of GS1 character set 82. */
export function checkLot(lot: string): string {
  return checkCset82(lot, "10", "lot", 20);
}

/** Checks a serial number against AI 21's rules: 1-20 characters of GS1 character set 82. */
export function checkSerial(serial: string): string {
  return checkCset82(serial, "21", "serial", 20);
}

/** A batch's GS1 keys, validated and normalised. */
export interface BatchKeys {
  readonly gtin: string;
  readonly lot: string;
}

export function batchKeys(gtin: string, lot: string): BatchKeys {
  return { gtin: normaliseGtin(gtin), lot: checkLot(lot) };
}

/** The unencoded canonical path the on-chain id hashes: `/01/{gtin14}/10/{lot}`. */
export function canonicalPath(keys: BatchKeys): string {
  return `/01/${keys.gtin}/10/${keys.lot}`;
}

/** The on-chain batchId: keccak256(utf8("/01/{gtin14}/10/{lot}")). */
export function batchIdOf(keys: BatchKeys): string {
  return keccak256(toUtf8Bytes(canonicalPath(keys)));
}
