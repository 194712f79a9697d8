/**
 * Smoke test of the benchmark runner (bench/run.ts): on a tiny log and a tiny load it builds the log through the real
 * ingest path, runs every module against its own API processes, and writes results.json and the README table with
 * every figure. No timing is asserted (the figures of a run this small mean nothing); it checks that `npm run bench`
 * still runs, so the full run is not the first to find out it does not. Its API processes get
 * CHAIN_UNLIMITED_CODE_SIZE=1, which the coverage-instrumented contracts of an `npm test` run need (as test/api/start).
 */
import { expect } from "chai";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Results } from "../../bench/lib/report.ts";

const RUN = fileURLToPath(new URL("../../bench/run.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../../", import.meta.url));

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RUN, ...args], {
      cwd: ROOT,
      env: { ...process.env, CHAIN_UNLIMITED_CODE_SIZE: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.once("error", reject);
    child.once("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("npm run bench (bench/run.ts), on a tiny log", function () {
  this.timeout(600_000);
  let dir: string;

  before(async function () {
    dir = await mkdtemp(path.join(tmpdir(), "ledger-bench-smoke-"));
  });
  after(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  it("builds the log, runs every module and writes every figure to results.json and the table", async function () {
    const out = path.join(dir, "results.json");
    const { code, stdout, stderr } = await run(["--entries", "300", "--scale", "0.001", "--duration", "1", "--cache-dir", dir, "--out", out]);
    expect(code, stderr.slice(-3000)).to.equal(0);
    const results = JSON.parse(await readFile(out, "utf8")) as Results;
    expect(results.entries).to.equal(300);
    expect(results.command).to.match(/^npm run bench -- --entries 300 /);
    const ids = results.figures.map((f) => f.id);
    expect(ids).to.include.members(["ingest.batch", "ingest.single", "ingest.ceiling", "log.checkpoint", "api.rss"]);
    for (const f of results.figures) {
      expect(Number.isFinite(f.value) && f.value > 0, `${f.id}: ${f.value}`).to.equal(true);
      if (f.baseline) expect(Number.isFinite(f.baseline.value) && f.baseline.value > 0, `${f.id} baseline`).to.equal(true);
      expect(f.detail?.failed ?? 0, `${f.id} failed requests: ${JSON.stringify(f.detail)}`).to.equal(0);
      expect(stdout, `the table has a row for ${f.id}`).to.contain(`| ${f.what} |`);
    }
    expect(stdout).to.contain(`written to ${out}`);
  });

  it("takes the log from its cache the second time, and runs one module alone with --only", async function () {
    const out = path.join(dir, "again.json");
    const { code, stderr } = await run(["--only", "ingest", "--entries", "300", "--scale", "0.001", "--duration", "1", "--cache-dir", dir, "--out", out]);
    expect(code, stderr.slice(-3000)).to.equal(0);
    expect(stderr).to.not.contain("building a 300-entry log");
    const results = JSON.parse(await readFile(out, "utf8")) as Results;
    expect(results.figures.find((f) => f.id === "api.rss")?.detail ?? {}).to.not.have.property("buildSeconds");
  });

  it("refuses an unknown module by name, listing the known ones", async function () {
    const { code, stderr } = await run(["--only", "nonsense", "--cache-dir", dir]);
    expect(code).to.equal(2);
    expect(stderr).to.match(/unknown module\(s\): nonsense; known: ingest/);
  });
});
