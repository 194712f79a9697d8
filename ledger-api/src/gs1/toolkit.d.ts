/**
 * Types for GS1's Digital Link toolkit as the `digital-link.js` package ships it (plain JavaScript, no types of its
 * own): only the members ai-table.ts and compression.ts read.
 */
declare module "digital-link.js/lib/GS1DigitalLinkCompressionPrototype/GS1DigitalLinkToolkit.js" {
  /** One row of the toolkit's `aitable`. */
  export interface ToolkitAi {
    readonly ai: string;
    readonly title: string;
    readonly label?: string;
    readonly shortcode?: string;
    /** e.g. "N14", "X..20", "N13+X..17", "N6..12". */
    readonly format: string;
    /** I = primary key, Q = key qualifier, D = data attribute. */
    readonly type: "I" | "Q" | "D";
    readonly fixedLength: boolean;
    /** "L" = the last digit; a number = the position (1-based) of the check digit closing the first component. */
    readonly checkDigit?: string;
    readonly qualifiers?: readonly string[];
    readonly regex: string;
  }

  /** One value component in the compression table: E = N or X; L = fixed length or M = maximum length. */
  export interface ToolkitValueFormat {
    readonly E: string;
    readonly L?: string;
    readonly M?: string;
  }

  export default class GS1DigitalLinkToolkit {
    readonly aitable: readonly ToolkitAi[];
    /** Table P: an AI's length in digits by its first two digits. */
    readonly tableP: Readonly<Record<string, number>>;
    /** Table F: each AI's value components. */
    readonly tableF: Readonly<Record<string, readonly ToolkitValueFormat[]>>;
    /** Table Opt: a hex code standing for a sequence of AIs. */
    readonly tableOpt: Readonly<Record<string, readonly string[]>>;
    compressGS1AIarrayToBinary(
      ais: Readonly<Record<string, string>>,
      useOptimisations: boolean,
      nonGS1keyvaluePairs: Readonly<Record<string, string>>,
    ): string;
    decompressBinaryToGS1AIarray(bits: string): Record<string, string>;
    bin2base64(bits: string): string;
    base642bin(text: string): string;
  }
}
