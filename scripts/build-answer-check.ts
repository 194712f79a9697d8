/** Writes ledger-api/src/verify/answer-check.generated.ts from the provenance answer's schema. */
import { writeFileSync } from "node:fs";
import { answerCheckSource } from "../ledger-api/src/verify/answer-check-source.ts";

const file = new URL("../ledger-api/src/verify/answer-check.generated.ts", import.meta.url);
writeFileSync(file, answerCheckSource());
console.log(`wrote ${file.pathname}`);
