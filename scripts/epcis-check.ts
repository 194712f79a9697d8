/**
 * Checks EPCIS 2.0 JSON-LD documents against what POST /epcis/capture accepts, without a ledger: GS1's schema
 * verdict per document, and the mapping's verdict per event (the ledger kind it maps to, or the field refused and
 * why). For partners trying their system's output, and for GS1's published examples (github.com/gs1/EPCIS, JSON/):
 *
 *   node scripts/epcis-check.ts DIR_OR_FILE...
 *
 * Events are checked without their signature envelope and eventID is reported like any other field.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { validateEpcisDocument } from "../ledger-api/src/epcis/gs1-schema.ts";
import { epcisToDoc, MappingError } from "../ledger-api/src/epcis/mapping.ts";

function files(arg: string): string[] {
  if (!statSync(arg).isDirectory()) return [arg];
  return readdirSync(arg, { recursive: true, encoding: "utf8" })
    .filter((f) => /\.json(ld)?$/.test(f))
    .sort()
    .map((f) => path.join(arg, f));
}

function eventsOf(document: unknown): unknown[] {
  const body = (document as { epcisBody?: { eventList?: unknown[]; queryResults?: { resultsBody?: { eventList?: unknown[] } } } })
    .epcisBody;
  return body?.eventList ?? body?.queryResults?.resultsBody?.eventList ?? [];
}

const tally = new Map<string, number>();
let mapped = 0;
for (const file of process.argv.slice(2).flatMap(files)) {
  const document: unknown = JSON.parse(readFileSync(file, "utf8"));
  const schema = validateEpcisDocument(document);
  console.log(`${file}: GS1 schema ${schema.success ? "valid" : `invalid (${schema.errors[0]})`}`);
  eventsOf(document).forEach((event, i) => {
    const { "ledger:signature": _envelope, ...unsigned } = event as Record<string, unknown>;
    try {
      console.log(`  event ${i}: maps to ${epcisToDoc(unsigned).doc.kind}`);
      mapped++;
    } catch (err) {
      if (!(err instanceof MappingError)) throw err;
      console.log(`  event ${i}: refused at ${err.pointer}: ${err.message}`);
      const field = err.pointer.split("/")[1] ?? "";
      tally.set(field, (tally.get(field) ?? 0) + 1);
    }
  });
}
console.log(`\n${mapped} events map to ledger documents; refused, by first field: ${JSON.stringify(Object.fromEntries(tally))}`);
