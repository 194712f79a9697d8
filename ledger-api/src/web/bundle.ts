/**
 * Builds the browser bundles into ledger-api/web-dist/, each one minified IIFE for ES2020:
 * - `verify.js` (verify/browser.ts): the verifier on `globalThis.LedgerVerify`, for anyone's own page;
 * - `shopper.js` (web/shopper-client.ts): the shopper page's script, the verifier and the page's renderer in one;
 * - `stall.js` (web/stall-client.ts): a stall display's script, the verifier and the display's renderer;
 * - `market.js` (web/market-client.ts): the safety centre's charts, with uPlot.
 * `npm run build:web` calls it; `npm start` rebuilds at each start so the bundles never lag the code.
 *
 * esbuild is imported on first use, so a server that never builds the bundles does not need it installed.
 */
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** Where the bundles are written by default (the resolver serves /assets/{file} from here). */
export const WEB_DIST_DIR = path.resolve(HERE, "../../web-dist");

/** Each bundle's file name and entry point. */
export const WEB_BUNDLES = {
  "verify.js": path.resolve(HERE, "../verify/browser.ts"),
  "shopper.js": path.resolve(HERE, "shopper-client.ts"),
  "stall.js": path.resolve(HERE, "stall-client.ts"),
  "market.js": path.resolve(HERE, "market-client.ts"),
} as const;

export type WebBundleName = keyof typeof WEB_BUNDLES;

export interface WebBundleOptions {
  readonly outdir?: string;
  /** Do nothing when every bundle already exists. */
  readonly ifMissing?: boolean;
}

export interface WebBundles {
  readonly outdir: string;
  /** False when `ifMissing` found the files already there. */
  readonly built: boolean;
  readonly files: Readonly<Record<WebBundleName, { readonly path: string; readonly bytes: number; readonly gzipBytes: number }>>;
}

const NAMES = Object.keys(WEB_BUNDLES) as WebBundleName[];

export async function buildWebBundle(options: WebBundleOptions = {}): Promise<WebBundles> {
  const outdir = options.outdir ?? WEB_DIST_DIR;
  const fileOf = (name: WebBundleName) => path.join(outdir, name);
  let built = false;
  if (!(options.ifMissing && NAMES.every((name) => existsSync(fileOf(name))))) {
    const { build } = await import("esbuild");
    mkdirSync(outdir, { recursive: true });
    await build({
      entryPoints: NAMES.map((name) => ({ in: WEB_BUNDLES[name], out: name.replace(/\.js$/, "") })),
      outdir,
      bundle: true,
      format: "iife",
      platform: "browser",
      target: "es2020",
      minify: true,
      legalComments: "none",
      // Shared modules name Node's Buffer global; the shim stands in for it (see verify/buffer-shim.ts).
      inject: [path.resolve(HERE, "../verify/buffer-shim.ts")],
      logLevel: "silent",
    });
    built = true;
  }
  const files = Object.fromEntries(
    NAMES.map((name) => {
      const file = fileOf(name);
      return [name, { path: file, bytes: statSync(file).size, gzipBytes: gzipSync(readFileSync(file)).length }];
    }),
  ) as WebBundles["files"];
  return { outdir, built, files };
}
