/**
 * Every GS1 Application Identifier this ledger knows, read at start-up from the `aitable` of GS1's Digital Link
 * toolkit as the `digital-link.js` package ships it (lib/GS1DigitalLinkCompressionPrototype, Apache-2.0; pinned by
 * package-lock.json): title, format, role (I primary key, Q key qualifier, D data attribute), check digit position.
 * Nothing of it is copied here; what this file adds is our reading of the format strings and the few corrections
 * below, each citing the GS1 General Specifications.
 *
 * Traps:
 * - The toolkit's table follows General Specifications v18. AIs GS1 allocated later (e.g. 4300-4333, 7011,
 *   7240-7259, 395n, 8030) are not in it, so `aiEntry` does not know them and the parser refuses them as unknown
 *   (README "GS1 Digital Link" lists them).
 * - This module imports the whole toolkit (about 190 KB of JavaScript): the browser bundles must not reach it.
 *   They read batch ids through link-path.ts, which needs no AI table.
 */
import GS1DigitalLinkToolkit from "digital-link.js/lib/GS1DigitalLinkCompressionPrototype/GS1DigitalLinkToolkit.js";

/** One component of an AI's value: `N6`, `X..20`, `N6..12`; a later variable-length one may be absent. */
export interface AiComponent {
  /** N digits, X GS1 character set 82, Y GS1 character set 39. */
  readonly type: "N" | "X" | "Y";
  readonly min: number;
  readonly max: number;
}

export type AiRole = "primary key" | "key qualifier" | "data attribute";

export interface AiEntry {
  readonly ai: string;
  /** GS1's data title, e.g. "ORIGIN" for AI 422 (the toolkit's label; its title where it has none). */
  readonly title: string;
  readonly role: AiRole;
  readonly fixedLength: boolean;
  /** Where the GS1 mod-10 check digit sits: the value's last digit, or the last digit of its first N component. */
  readonly checkDigit?: "last" | "first component";
  readonly components: readonly AiComponent[];
  /** The format as GS1 writes it, e.g. "N3+N..12". */
  readonly format: string;
}

let toolkitInstance: GS1DigitalLinkToolkit | undefined;

/** The one toolkit instance (its constructor builds several tables; build them once). */
export function toolkit(): GS1DigitalLinkToolkit {
  toolkitInstance ??= new GS1DigitalLinkToolkit();
  return toolkitInstance;
}

/**
 * Formats the toolkit's table has wrong for the current standard (it predates these revisions), in its own notation.
 * - 7030-7039 (approval number of processor): N3+X..27, an ISO 3166 country (or 999) then up to 27 characters
 *   (General Specifications §3, AIs 7030-7039); the toolkit writes X..27, which would refuse 28-30 characters.
 * - 391n and 393n (amount payable with ISO currency code): N3+N..15, the ISO 4217 code then up to 15 digits
 *   (General Specifications §3, AIs 391n and 393n); the toolkit's aitable writes N..15, though its own compression
 *   table has the N3 component.
 * - 8013 (GMN): at most 25 characters, the last two a check character pair (General Specifications §3, AI 8013,
 *   and §7.9 for the pair); the toolkit writes X..30.
 */
const FORMAT_CORRECTIONS: Readonly<Record<string, string>> = {
  ...Object.fromEntries([..."0123456789"].map((n) => [`703${n}`, "N3+X..27"])),
  ...Object.fromEntries([..."0123456789"].flatMap((n) => [[`391${n}`, "N3+N..15"], [`393${n}`, "N3+N..15"]])),
  "8013": "X..25",
};

/** Parses a format such as "N13+X..17" or "N6..12" into components. */
export function parseFormat(format: string): AiComponent[] {
  return format.split("+").map((part) => {
    const m = /^([NXY])([0-9]*)(\.\.([0-9]+))?$/.exec(part);
    if (!m) throw new Error(`unreadable AI format "${format}"`); // the toolkit's table, not user input
    const [, type, first = "", range, last] = m;
    const max = Number(range ? last : first);
    const min = range ? (first === "" ? 1 : Number(first)) : max;
    return { type: type as AiComponent["type"], min, max };
  });
}

const ROLES: Readonly<Record<"I" | "Q" | "D", AiRole>> = { I: "primary key", Q: "key qualifier", D: "data attribute" };

function readTable(): ReadonlyMap<string, AiEntry> {
  const entries = new Map<string, AiEntry>();
  for (const row of toolkit().aitable) {
    const format = FORMAT_CORRECTIONS[row.ai] ?? row.format;
    entries.set(row.ai, {
      ai: row.ai,
      title: (row.label ?? row.title).trim(),
      role: ROLES[row.type],
      fixedLength: row.fixedLength,
      ...(row.checkDigit === undefined ? {} : { checkDigit: row.checkDigit === "L" ? "last" : "first component" }),
      components: parseFormat(format),
      format,
    });
  }
  return entries;
}

let table: ReadonlyMap<string, AiEntry> | undefined;

/** Every AI of the table, by AI. */
export function aiTable(): ReadonlyMap<string, AiEntry> {
  table ??= readTable();
  return table;
}

export function aiEntry(ai: string): AiEntry | undefined {
  return aiTable().get(ai);
}
