/**
 * Moves a SQLite ledger (DATA_DIR/ledger.db) into an empty PostgreSQL database (DATABASE_URL) and proves the copy:
 * same log size and root, same anchors and anchor intents, same relay and index state, every table's rows equal
 * (ledger-api/src/store/copy-sqlite-to-postgres.ts). Stop the service first. A progress bar goes to stderr, the
 * proof to stdout; exit 1 with the reason if the target is not empty or the copy is not proven.
 *
 *   npm run migrate:postgres -- [--data-dir ./data] [--database-url postgres://...]
 *   (defaults: DATA_DIR, else ./data; DATABASE_URL)
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { copySqliteToPostgres, type CopyProgress } from "../ledger-api/src/store/copy-sqlite-to-postgres.ts";

const { values } = parseArgs({
  options: {
    "data-dir": { type: "string", default: process.env.DATA_DIR || "data" },
    "database-url": { type: "string", default: process.env.DATABASE_URL },
  },
});
const databaseUrl = values["database-url"];
if (databaseUrl === undefined || databaseUrl === "") {
  console.error("usage: migrate-sqlite-to-postgres [--data-dir DIR] --database-url postgres://... (or DATABASE_URL)");
  process.exit(2);
}
const dataDir = resolve(values["data-dir"]);

let lastDrawn = -1;
function bar({ table, done, total }: CopyProgress): void {
  const share = total === 0 ? 1 : done / total;
  const percent = Math.floor(share * 100);
  const width = 30;
  const line = `[${"#".repeat(Math.round(share * width)).padEnd(width, ".")}] ${String(percent).padStart(3)}% ` +
    `${done.toLocaleString("en")}/${total.toLocaleString("en")} rows  ${table}`;
  if (process.stderr.isTTY) {
    process.stderr.write(`\r${line.padEnd(100)}`);
  } else if (percent >= lastDrawn + 10 || done === total) {
    // Not a terminal (a log file): a line per tenth, not a carriage return per page.
    process.stderr.write(`${line}\n`);
    lastDrawn = percent;
  }
}

try {
  const shown = new URL(databaseUrl);
  shown.password = "";
  console.error(`copying ${dataDir}/ledger.db into ${shown.toString()}`);
  const report = await copySqliteToPostgres({ dataDir, databaseUrl, progress: bar });
  if (process.stderr.isTTY) process.stderr.write("\n");
  console.log(`copied and proven: log size ${report.size}, root ${report.root}`);
  console.log(`  ${report.anchors} anchors, ${report.anchorIntents} anchor intents, relay cursor at ${report.relayCursor}`);
  for (const t of report.tables) console.log(`  ${t.name.padEnd(17)} ${String(t.rows).padStart(9)} rows  sha256 ${t.digest}`);
} catch (err) {
  if (process.stderr.isTTY) process.stderr.write("\n");
  const proofFailed = (err as Error).name === "CopyMismatchError";
  console.error(`${proofFailed ? "copied, but NOT proven" : "not copied"}: ${(err as Error).message}`);
  process.exit(1);
}
