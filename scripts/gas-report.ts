/**
 * Median gas per operation, from Hardhat's own gas statistics: runs test/gas/operations.test.ts once per mode
 * (`--grep direct`, `--grep relayed`) with `--gas-stats-json`; then once more (`--grep grouped`) for the gas per
 * relayed lifecycle event at 1, 10 and 50 events per transaction, which that test measures from receipts and writes
 * to GAS_GROUPS_FILE. Writes gas-report.json and prints the README's two tables. Usage: `npm run gas`.
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

const dir = mkdtempSync(path.join(tmpdir(), "gas-"));

function hardhatTest(grep: string, extra: readonly string[], env: NodeJS.ProcessEnv = process.env): void {
  execFileSync("npx", ["hardhat", "test", "mocha", "test/gas/operations.test.ts", "--grep", grep, ...extra], {
    stdio: ["ignore", "ignore", "inherit"],
    env,
  });
}

function run(grep: string): Map<string, Stat> {
  const file = path.join(dir, `${grep}.json`);
  hardhatTest(grep, ["--gas-stats-json", file]);
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

const groupsFile = path.join(dir, "groups.json");
hardhatTest("grouped", [], { ...process.env, GAS_GROUPS_FILE: groupsFile });
/** Gas per event of one kind, by events per transaction ("1", "10", "50") and as single relayed calls ("single"). */
const groups = JSON.parse(readFileSync(groupsFile, "utf8")) as Record<string, Record<string, number>>;
const GROUP_SIZES = [...new Set(Object.values(groups).flatMap((g) => Object.keys(g)))]
  .filter((k) => k !== "single")
  .map(Number)
  .sort((a, b) => a - b);
if (GROUP_SIZES.length === 0) throw new Error("no grouped gas measured: did test/gas/operations.test.ts change?");

writeFileSync("gas-report.json", JSON.stringify({ ...report, "ProvenanceLedger.relayGroup (gas per event)": groups }, null, 2) + "\n");
const gas = (n: number | undefined): string => (n === undefined ? "n/a" : n.toLocaleString("en"));
console.log("| operation | direct (median gas) | relayed (median gas) |\n|---|---:|---:|");
for (const [op, { direct: d, relayed: r }] of Object.entries(report)) console.log(`| ${op} | ${gas(d)} | ${gas(r)} |`);
console.log(
  `\n| relayed event, 50 lots | 1 per tx (single call) | ${GROUP_SIZES.map((n) => `${n} per tx (relayGroup)`).join(" | ")} | 50 per tx vs single |`,
);
console.log(`|---|---:|${GROUP_SIZES.map(() => "---:|").join("")}---:|`);
for (const [kind, g] of Object.entries(groups)) {
  const saving = g.single && g["50"] ? `${(100 * (1 - g["50"] / g.single)).toFixed(1)} % less` : "n/a";
  console.log(`| ${kind} | ${gas(g.single)} | ${GROUP_SIZES.map((n) => gas(g[String(n)])).join(" | ")} | ${saving} |`);
}
