/**
 * The contract's GS1 key checks (contracts/lib/GS1.sol), mirrored for the ingest rules (rules.ts): which custom
 * error GS1.checkedBatchId reverts with for a GTIN and lot, with its arguments, or the batch id when it accepts.
 *
 * Traps: GS1.sol checks exactly 14 ASCII digits (no GTIN-8/12/13 padding, as gs1/keys.ts `normaliseGtin` does for
 * documents) and the lot's length in UTF-8 bytes, not UTF-16 code units; the first failing check is the one reported.
 */
import { batchIdOf, gtinCheckDigit, isValidLot, type Bytes32 } from "../protocol/typed-data.ts";
import { GTIN_LENGTH, MAX_LOT_LENGTH } from "../protocol/limits.ts";

/** GS1.sol's custom errors. */
export type Gs1RuleName = "GtinMalformed" | "GtinCheckDigitMismatch" | "LotLengthInvalid" | "LotCharacterInvalid";

export type Gs1Verdict =
  | { readonly ok: true; readonly batchId: Bytes32 }
  | { readonly ok: false; readonly rule: Gs1RuleName; readonly args: readonly (string | bigint)[]; readonly message: string };

/** GS1.checkGtin: 14 ASCII digits (GtinMalformed), then the mod-10 check digit. */
function gtinRefusal(gtin: string): Gs1Verdict | undefined {
  if (!/^[0-9]{14}$/.test(gtin)) {
    return { ok: false, rule: "GtinMalformed", args: [gtin], message: `GTIN "${gtin}" is not 14 ASCII digits` };
  }
  const expected = gtinCheckDigit(gtin.slice(0, GTIN_LENGTH - 1));
  const actual = Number(gtin[GTIN_LENGTH - 1]);
  if (expected !== actual) {
    return {
      ok: false,
      rule: "GtinCheckDigitMismatch",
      args: [gtin, BigInt(expected), BigInt(actual)],
      message: `GTIN ${gtin} ends in check digit ${actual}, expected ${expected}`,
    };
  }
  return undefined;
}

/** GS1.checkLot: 1..20 bytes (LotLengthInvalid), then each byte in character set 82, first bad byte reported. */
function lotRefusal(lot: string): Gs1Verdict | undefined {
  const bytes = Buffer.from(lot, "utf8");
  if (bytes.length === 0 || bytes.length > MAX_LOT_LENGTH) {
    return {
      ok: false,
      rule: "LotLengthInvalid",
      args: [lot, BigInt(bytes.length)],
      message: `lot "${lot}" is ${bytes.length} bytes, not 1 to ${MAX_LOT_LENGTH}`,
    };
  }
  if (isValidLot(lot)) return undefined;
  // A lot is checked byte by byte; a one-character string of one byte is in set 82 exactly when it is a valid lot.
  const position = bytes.findIndex((b) => b > 0x7f || !isValidLot(String.fromCharCode(b)));
  return {
    ok: false,
    rule: "LotCharacterInvalid",
    args: [lot, BigInt(position)],
    message: `lot "${lot}" has a character outside GS1 character set 82 at byte ${position}`,
  };
}

/** GS1.checkedBatchId: the GTIN's checks, then the lot's, then the id. */
export function gs1Refusal(gtin: string, lot: string): Gs1Verdict {
  return gtinRefusal(gtin) ?? lotRefusal(lot) ?? { ok: true, batchId: batchIdOf(gtin, lot) };
}
