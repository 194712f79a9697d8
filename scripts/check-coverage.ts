/**
 * Fails unless the contracts' line coverage (from `hardhat test --coverage`, coverage/lcov.info) reaches the
 * threshold. Only product code counts: Solidity tests and their helpers live under test/, not contracts/.
 * Usage: node scripts/check-coverage.ts [minimum percent, default 95]
 */
import { readFileSync } from "node:fs";

const minimum = Number(process.argv[2] ?? 95);
const files: { file: string; hit: number; found: number }[] = [];
let current: { file: string; hit: number; found: number } | undefined;
for (const line of readFileSync("coverage/lcov.info", "utf8").split("\n")) {
  if (line.startsWith("SF:")) files.push((current = { file: line.slice(3), hit: 0, found: 0 }));
  else if (line.startsWith("LH:") && current) current.hit = Number(line.slice(3));
  else if (line.startsWith("LF:") && current) current.found = Number(line.slice(3));
}
const product = files.filter((f) => f.file.startsWith("contracts/"));
const hit = product.reduce((n, f) => n + f.hit, 0);
const found = product.reduce((n, f) => n + f.found, 0);
const percent = found === 0 ? 0 : (100 * hit) / found;
for (const f of product) console.log(`  ${f.file}: ${f.hit}/${f.found} lines`);
console.log(`contracts line coverage: ${percent.toFixed(2)}% (${hit}/${found}); required ${minimum}%`);
if (found === 0 || percent < minimum) process.exit(1);
