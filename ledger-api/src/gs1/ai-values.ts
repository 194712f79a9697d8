/**
 * Checks one AI's value: its format from the AI table (ai-table.ts: components, lengths, character sets, check
 * digit position), then the content rules the GS1 General Specifications put on particular AIs, written here:
 * real dates and times (§7.12 for the century of YY), ISO 3166 numeric country codes (from `i18n-iso-countries`),
 * ISO 4217 numeric currency codes (from `currency-codes`), IBANs (ISO 13616), the GMN check character pair,
 * piece-of-total counts, roll dimensions.
 *
 * Every failure is a Gs1Error that names the AI, its title and what to change.
 *
 * Traps:
 * - Code lists no kept package holds are not checked: fish species (7008), fishing gear (7009), production method
 *   (7010), catch area (7005) take any value of their format; GS1's own checks do the same. GS1 Company Prefixes
 *   (e.g. in 7023) are not looked up: GS1's prefix registry is online.
 * - YY dates take their century from GS1's sliding window around the current year, so whether "290229" is a real
 *   day depends on the year the check runs in; within 1977-2076, "divisible by 4" is exactly the leap rule.
 */
import countries from "i18n-iso-countries";
import currencyCodes from "currency-codes";
import { aiEntry, type AiComponent, type AiEntry } from "./ai-table.ts";
import { Gs1Error, gs1CheckDigit } from "./keys.ts";

/**
 * ISO 3166-1 leaves numeric codes 900-999 to user assignment; the package lists one (983, Kosovo), which is no ISO
 * 3166 code, so that range is left out (999 is GS1's own "unknown" where an AI allows it).
 */
const ISO3166_NUMERIC: ReadonlySet<string> = new Set(Object.keys(countries.getNumericCodes()).filter((c) => Number(c) < 900));
const ISO3166_ALPHA2: ReadonlySet<string> = new Set(Object.keys(countries.getAlpha2Codes()));
// The package's types say numbers, its data holds 3-digit strings ("008"): normalise either way.
const ISO4217_NUMERIC: ReadonlySet<string> = new Set(currencyCodes.numbers().map((n) => String(n).padStart(3, "0")));

const CSET82 = /^[!"%&'()*+,\-./0-9:;<=>?A-Z_a-z]$/;
const CSET39 = /^[#\-/0-9A-Z]$/;

const CHARSETS: Readonly<Record<AiComponent["type"], { test: RegExp; what: string }>> = {
  N: { test: /^[0-9]$/, what: "digits only" },
  X: { test: CSET82, what: "GS1 character set 82 (A-Z a-z 0-9 and ! \" % & ' ( ) * + , - . / : ; < = > ? _)" },
  Y: { test: CSET39, what: "GS1 character set 39 (A-Z 0-9 # - /)" },
};

/** A content rule: the end of a sentence saying what is wrong with `value`, or undefined when it is fine. */
type Rule = (value: string) => string | undefined;

// ---------------------------------------------------------------------------------------------------------------
// Dates and times (General Specifications §7.12: YY is read in a window from 49 years back to 50 years ahead)

/** YY to YYYY by GS1's sliding window around `year`. */
export function centuryOf(yy: number, year: number = new Date().getUTCFullYear()): number {
  const diff = yy - (year % 100);
  const century = Math.floor(year / 100);
  return (diff >= 51 ? century - 1 : diff > -50 ? century : century + 1) * 100 + yy;
}

function daysInMonth(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return month === 2 ? (leap ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** YYMMDD; `dayZero` allows DD = 00 ("day unknown", as the date AIs 11-17 do). */
function date(dayZero: boolean): Rule {
  return (v) => {
    if (!/^[0-9]{6}$/.test(v)) return `is not a YYMMDD date`;
    const [yy, mm, dd] = [v.slice(0, 2), v.slice(2, 4), v.slice(4, 6)];
    const month = Number(mm);
    if (month < 1 || month > 12) return `has month ${mm}; YYMMDD needs 01-12`;
    if (dd === "00" && dayZero) return undefined;
    const max = daysInMonth(centuryOf(Number(yy)), month);
    const day = Number(dd);
    if (day < 1 || day > max) {
      return `has day ${dd}; month ${mm} of year ${yy} has days 01-${max}${dayZero ? " (or 00 when the day is unknown)" : ""}`;
    }
    return undefined;
  };
}

const yymmdd = date(false);
const yymmd0 = date(true);

function upTo(max: number, what: string): Rule {
  return (v) => (Number(v) > max ? `has ${what} ${v}; it must be 00-${max}` : undefined);
}
const hour = upTo(23, "hour");
const minute = upTo(59, "minute");

/** Runs rules over consecutive slices of the value: [length, rule] pairs; the message names the slice. */
function slices(...parts: readonly (readonly [number, Rule])[]): Rule {
  return (v) => {
    let at = 0;
    for (const [length, rule] of parts) {
      const part = v.slice(at, at + length);
      if (part === "") return undefined;
      const problem = rule(part);
      if (problem !== undefined) return part === v ? problem : `"${part}" ${problem}`;
      at += length;
    }
    return undefined;
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Code lists

const country: Rule = (v) =>
  ISO3166_NUMERIC.has(v) ? undefined : "is not an ISO 3166 numeric country code (e.g. 410 Korea, 156 China, 276 Germany)";

const countryOr999: Rule = (v) =>
  v === "999" || ISO3166_NUMERIC.has(v) ? undefined : "is neither an ISO 3166 numeric country code nor 999";

const currency: Rule = (v) =>
  ISO4217_NUMERIC.has(v) ? undefined : "is not an ISO 4217 numeric currency code (e.g. 410 KRW, 156 CNY, 978 EUR)";

/** One to five country codes run together (AIs 423 and 425: each country a processing step took place in). */
const countries3: Rule = (v) => {
  if (v.length % 3 !== 0) return `is ${v.length} digits; it must be one to five 3-digit ISO 3166 country codes`;
  for (let i = 0; i < v.length; i += 3) {
    const problem = country(v.slice(i, i + 3));
    if (problem !== undefined) return v.length === 3 ? problem : `"${v.slice(i, i + 3)}" ${problem}`;
  }
  return undefined;
};

/** A code, then a second part the AI requires (the table's format marks every later part optional). */
function codeThen(codeLength: number, code: Rule, rest: string): Rule {
  return (v) => {
    const problem = code(v.slice(0, codeLength));
    if (problem !== undefined) return `"${v.slice(0, codeLength)}" ${problem}`;
    return v.length > codeLength ? undefined : `has no ${rest} after its first ${codeLength} characters`;
  };
}

/** ISO 13616 IBAN: an ISO 3166 alpha-2 country, two check digits, then mod 97 of the rearranged value is 1. */
const iban: Rule = (v) => {
  if (!/^[A-Z]{2}[0-9]{2}[0-9A-Z]{7,30}$/.test(v)) {
    return "is not an IBAN: 2 country letters, 2 check digits and 7-30 upper-case letters or digits";
  }
  if (!ISO3166_ALPHA2.has(v.slice(0, 2))) return `starts with ${v.slice(0, 2)}, which is not an ISO 3166 alpha-2 code`;
  let rest = 0;
  for (const c of v.slice(4) + v.slice(0, 4)) {
    const n = parseInt(c, 36);
    rest = (rest * (n < 10 ? 10 : 100) + n) % 97;
  }
  return rest === 1 ? undefined : "has wrong IBAN check digits";
};

// ---------------------------------------------------------------------------------------------------------------
// Check characters and counts

/**
 * The GMN check character pair (General Specifications §7.9, "check character calculation"): each character's
 * position in character set 82 weighted by a prime (2, 3, 5, ... from the right), summed mod 1021, written as two
 * characters of the 32-character alphabet below.
 */
const CSET82_ORDER = `!"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz`;
const CHECK_PAIR_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

function primes(count: number): number[] {
  const out: number[] = [];
  for (let n = 2; out.length < count; n++) if (out.every((p) => n % p !== 0)) out.push(n);
  return out;
}
const PRIMES = primes(30);

const checkPair: Rule = (v) => {
  if (v.length < 3) return "is too short for a GMN and its two check characters";
  const body = v.slice(0, -2);
  let sum = 0;
  for (let i = 0; i < body.length; i++) sum += CSET82_ORDER.indexOf(body[i]!) * PRIMES[body.length - 1 - i]!;
  sum %= 1021;
  const pair = CHECK_PAIR_ALPHABET[sum >> 5]! + CHECK_PAIR_ALPHABET[sum & 31]!;
  return v.slice(-2) === pair ? undefined : `has check characters ${v.slice(-2)}, expected ${pair}`;
};

/** "Piece of total" (AIs 8006, 8026): after the GTIN, NN piece and NN total, neither 00, piece at most total. */
const pieceOfTotal: Rule = (v) => {
  const [piece, total] = [v.slice(14, 16), v.slice(16, 18)];
  if (piece === "00" || total === "00") return `has piece ${piece} of ${total}; neither may be 00`;
  return Number(piece) > Number(total) ? `has piece ${piece} of only ${total}` : undefined;
};

/** Roll products (AI 8001): width, length and core diameter non-zero, winding direction 0, 1 or 9. */
const roll: Rule = (v) => {
  if (/^0{4}/.test(v) || /^0{5}$/.test(v.slice(4, 9)) || v.slice(9, 12) === "000") {
    return "has a zero width, length or core diameter";
  }
  return "019".includes(v[12]!) ? undefined : `has winding direction ${v[12]}; it must be 0, 1 or 9`;
};

// ---------------------------------------------------------------------------------------------------------------
// Which AI has which content rule (General Specifications §3, each AI's definition)

function each(ais: string, rule: Rule): [string, Rule][] {
  return ais.split(" ").flatMap((ai) => {
    if (!ai.endsWith("n")) return [[ai, rule]];
    return [..."0123456789"].map((n): [string, Rule] => [ai.slice(0, -1) + n, rule]);
  });
}

const RULES: ReadonlyMap<string, Rule> = new Map([
  ...each("11 12 13 15 16 17", yymmd0),
  ...each("7006", yymmdd),
  ...each("7007", (v) => (v.length === 6 || v.length === 12 ? slices([6, yymmdd], [6, yymmdd])(v) : "is neither one YYMMDD date nor two")),
  ...each("7003", slices([6, yymmdd], [2, hour], [2, minute])),
  ...each("8008", (v) =>
    v.length % 2 === 0 ? slices([6, yymmdd], [2, hour], [2, minute], [2, upTo(59, "second")])(v) : "must be YYMMDDHH with optional MM and SS"),
  ...each("422 424 426", country),
  ...each("423 425", countries3),
  ...each("421", codeThen(3, country, "postal code")),
  ...each("703n", codeThen(3, countryOr999, "approval number")),
  ...each("391n 393n", codeThen(3, currency, "amount")),
  ...each("723n", codeThen(2, () => undefined, "certification reference")),
  ...each("8003", (v) => (v.startsWith("0") ? undefined : "must start with 0 (a GRAI is 0 and a GTIN-13-style key)")),
  ...each("8006 8026", pieceOfTotal),
  ...each("8001", roll),
  ...each("8007", iban),
  ...each("8013", checkPair),
  // North American coupon data (8110, 8112) is a nested structure of its own (the coupon's application guideline);
  // not checked here, so refused rather than passed on unchecked.
  ...each("8110 8112", () => "is North American coupon data, which this ledger does not accept: it cannot check it"),
]);

// ---------------------------------------------------------------------------------------------------------------

/** "ORIGIN (AI 422)" style label. */
export function aiLabel(ai: string, name: string = aiEntry(ai)?.title ?? "unknown AI"): string {
  return `${name} (AI ${ai})`;
}

function checkComponents(entry: AiEntry, value: string, label: string): void {
  let rest = value;
  entry.components.forEach((component, index) => {
    const variable = component.min !== component.max;
    if (rest === "" && index > 0 && variable) return;
    const part = rest.slice(0, component.max);
    if (part.length < component.min) {
      throw new Gs1Error(`${label} "${value}" is too short: format ${entry.format} (N = digit, ..n = up to n)`);
    }
    const charset = CHARSETS[component.type];
    const bad = [...part].find((c) => !charset.test.test(c));
    if (bad !== undefined) {
      throw new Gs1Error(`${label} "${value}" must be ${charset.what} (format ${entry.format}); "${bad}" is not`);
    }
    rest = rest.slice(part.length);
  });
  if (rest !== "") throw new Gs1Error(`${label} "${value}" is too long: format ${entry.format}`);
}

function checkDigitOf(entry: AiEntry, value: string, label: string): void {
  if (entry.checkDigit === undefined) return;
  const digits = entry.checkDigit === "last" ? value : value.slice(0, entry.components[0]!.max);
  const expected = gs1CheckDigit(digits.slice(0, -1));
  if (Number(digits.at(-1)) !== expected) {
    throw new Gs1Error(`${label} "${value}" has check digit ${digits.at(-1)}, expected ${expected}`);
  }
}

/**
 * Checks `value` against AI `ai`'s format, check digit and content rules; `name` overrides the table's title in
 * messages. Returns the value; throws Gs1Error.
 */
export function checkAiValue(ai: string, value: string, name?: string): string {
  const entry = aiEntry(ai);
  if (entry === undefined) throw new Gs1Error(`AI ${ai} is not in GS1's table of Application Identifiers`);
  const label = aiLabel(ai, name ?? entry.title);
  checkComponents(entry, value, label);
  checkDigitOf(entry, value, label);
  const problem = RULES.get(ai)?.(value);
  if (problem !== undefined) {
    throw new Gs1Error(problem.startsWith('"') ? `${label} ${problem}` : `${label} "${value}" ${problem}`);
  }
  return value;
}
