/**
 * Rewrites the README's table of refusal codes from the one table in ledger-api/src/http/errors.ts
 * (test/api/http/error-codes.test.ts fails while they differ).
 *
 *   node scripts/error-codes.ts
 */
import { readFileSync, writeFileSync } from "node:fs";
import { readmeWithErrorCodes } from "../ledger-api/src/http/errors.ts";

const file = new URL("../README.md", import.meta.url);
const before = readFileSync(file, "utf8");
const after = readmeWithErrorCodes(before);
if (after !== before) writeFileSync(file, after);
console.log(after === before ? "README.md: error codes already current" : "README.md: error codes rewritten");
