/**
 * Builds the browser bundle of the verifier (browser.ts -> ledger-api/web-dist/verify.js: one minified IIFE, ES2020,
 * that sets `globalThis.LedgerVerify`). `npm run build:web` calls it; the server may call it at start when the file is
 * missing (`buildWebBundle({ ifMissing: true })`).
 *
 * esbuild is imported on first use, so a server that never builds the bundle does not need it installed.
 */
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** Where the bundle is written by default. */
export const WEB_BUNDLE_FILE = path.resolve(HERE, "../../web-dist/verify.js");

export interface WebBundleOptions {
  readonly outfile?: string;
  /** Do nothing when the file already exists. */
  readonly ifMissing?: boolean;
}

export interface WebBundle {
  readonly outfile: string;
  /** False when `ifMissing` found the file already there. */
  readonly built: boolean;
  readonly bytes: number;
  readonly gzipBytes: number;
}

export async function buildWebBundle(options: WebBundleOptions = {}): Promise<WebBundle> {
  const outfile = options.outfile ?? WEB_BUNDLE_FILE;
  let built = false;
  if (!(options.ifMissing && existsSync(outfile))) {
    const { build } = await import("esbuild");
    mkdirSync(path.dirname(outfile), { recursive: true });
    await build({
      entryPoints: [path.join(HERE, "browser.ts")],
      outfile,
      bundle: true,
      format: "iife",
      platform: "browser",
      target: "es2020",
      minify: true,
      legalComments: "none",
      // Shared modules name Node's Buffer global; the shim stands in for it (see buffer-shim.ts).
      inject: [path.join(HERE, "buffer-shim.ts")],
      logLevel: "silent",
    });
    built = true;
  }
  return { outfile, built, bytes: statSync(outfile).size, gzipBytes: gzipSync(readFileSync(outfile)).length };
}
