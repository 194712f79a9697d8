/**
 * The API's worker threads (the ingest workers, the store's log writer) run from one bundled ES module each, built
 * with esbuild once per process into ledger-api/worker-dist/ and named by a hash of its content.
 *
 * Why: a thread started on the TypeScript sources loads Node's type stripper (its WebAssembly compiler) and every
 * module its imports reach, whole (all of ethers, for example), into its own isolate. Measured on this code: an ingest
 * worker started on its sources added 68 MB to the process's RSS, the same worker bundled 23 MB (esbuild keeps only
 * what is reached and the bundle is plain JavaScript). With two ingest workers and the log writer that is most of
 * the difference between the API fitting its memory goal and not.
 *
 * The bundle is the same code: esbuild only concatenates the modules and drops what nothing imports. Native
 * packages stay outside it (secp256k1 is loaded by its own path at run time). Files are written atomically
 * (temporary file, then rename) and never rewritten, so processes building at once never read half a bundle.
 * The bundles must sit inside the project (they find node_modules, and the native secp256k1 binding, from where they
 * are). esbuild is imported on first use; without it (an install without dev dependencies), or if the directory cannot
 * be written, this returns undefined and the threads load their sources as before.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** Where the bundles are written (next to web-dist/). */
export const WORKER_DIST_DIR = path.resolve(HERE, "../worker-dist");

/** Each thread's entry module. */
const ENTRIES = {
  ingestWorker: path.resolve(HERE, "ingest/ingest-worker.ts"),
  logWriter: path.resolve(HERE, "store/sqlite-log-worker.ts"),
} as const;

export type ThreadEntries = Readonly<Record<keyof typeof ENTRIES, URL>>;

let built: Promise<ThreadEntries | undefined> | undefined;

/** The bundled entry of each worker thread, built on the first call of the process; undefined without esbuild. */
export function threadEntries(outdir = WORKER_DIST_DIR): Promise<ThreadEntries | undefined> {
  built ??= build(outdir).catch(() => undefined);
  return built;
}

async function build(outdir: string): Promise<ThreadEntries> {
  const esbuild = await import("esbuild");
  const names = Object.keys(ENTRIES) as (keyof typeof ENTRIES)[];
  const result = await esbuild.build({
    entryPoints: names.map((name) => ({ in: ENTRIES[name], out: name })),
    outdir: "/",
    write: false,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node22",
    // A native addon and its loader stay outside; the bundle requires them from node_modules at run time.
    external: ["secp256k1"],
    // CommonJS packages bundled into an ES module call require() for Node's built-ins.
    banner: { js: 'import { createRequire as __ledgerRequire } from "node:module"; const require = __ledgerRequire(import.meta.url);' },
    logLevel: "silent",
  });
  mkdirSync(outdir, { recursive: true });
  const entries = {} as Record<keyof typeof ENTRIES, URL>;
  for (const name of names) {
    const file = result.outputFiles.find((f) => path.basename(f.path) === `${name}.js`);
    if (file === undefined) throw new Error(`esbuild wrote no bundle for ${name}`);
    const hash = createHash("sha256").update(file.contents).digest("hex").slice(0, 16);
    const target = path.join(outdir, `${name}.${hash}.mjs`);
    if (!existsSync(target)) {
      const temporary = `${target}.${process.pid}.tmp`;
      writeFileSync(temporary, file.contents);
      renameSync(temporary, target);
    }
    entries[name] = pathToFileURL(target);
    forgetOlder(outdir, name, target);
  }
  return entries;
}

/** Removes this entry's bundles of other code versions unused for an hour (a process may still be starting on one). */
function forgetOlder(outdir: string, name: string, keep: string): void {
  for (const file of readdirSync(outdir)) {
    const full = path.join(outdir, file);
    if (!file.startsWith(`${name}.`) || full === keep) continue;
    try {
      if (Date.now() - statSync(full).mtimeMs > 3_600_000) unlinkSync(full);
    } catch {
      // Another process removed it first.
    }
  }
}
