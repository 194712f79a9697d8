/**
 * Median gas per operation, from Hardhat's own gas statistics: runs test/gas/operations.test.ts once per mode
 * (`--grep direct`, `--grep relayed`) with `--gas-stats-json`, then writes gas-report.json and prints the README's
 * table. Usage: `npm run gas`.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

interface Stat {
  readonly median: number;
  readonly count: number;
}
interface GasStats {
  readonly contracts: Record<string, { readonly functions: Record<string, Stat> }>;
}

const OPERATIONS = [
  "register",
  "recordPesticide",
  "recordInspection",
  "clearCustoms",
  "offerHandOff",
  "acceptHandOff",
  "cancelHandOff",
  "split",
  "merge",
  "recall",
] as const;

function run(grep: string): Map<string, Stat> {
  const file = path.join(mkdtempSync(path.join(tmpdir(), "gas-")), `${grep}.json`);
  execFileSync(
    "npx",
    ["hardhat", "test", "mocha", "test/gas/operations.test.ts", "--grep", grep, "--gas-stats-json", file],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  const stats = JSON.parse(readFileSync(file, "utf8")) as GasStats;
  const out = new Map<string, Stat>();
  for (const [contract, { functions }] of Object.entries(stats.contracts)) {
    for (const [signature, stat] of Object.entries(functions)) {
      // Hardhat lists an overloaded-looking name both bare and with its full signature; they are one function.
      const name = `${contract.split(":")[1]}.${signature.split("(")[0]}`;
      const prev = out.get(name);
      if (!prev || stat.count > prev.count) out.set(name, stat);
    }
  }
  return out;
}

const direct = run("direct");
const relayed = run("relayed");
const report: Record<string, { direct: number; relayed?: number }> = {};
for (const op of OPERATIONS) {
  const d = direct.get(`ProvenanceLedger.${op}`);
  const r = relayed.get(`ProvenanceLedger.${op}`);
  if (!d || !r) throw new Error(`no gas statistics for ${op}: did test/gas/operations.test.ts change?`);
  report[`ProvenanceLedger.${op}`] = { direct: d.median, relayed: r.median };
}
const anchor = direct.get("LogAnchor.anchor");
if (!anchor) throw new Error("no gas statistics for LogAnchor.anchor");
report["LogAnchor.anchor"] = { direct: anchor.median };

writeFileSync("gas-report.json", JSON.stringify(report, null, 2) + "\n");
console.log("| operation | direct (median gas) | relayed (median gas) |\n|---|---:|---:|");
for (const [op, { direct: d, relayed: r }] of Object.entries(report)) {
  console.log(`| ${op} | ${d.toLocaleString("en")} | ${r === undefined ? "n/a" : r.toLocaleString("en")} |`);
}
