/**
 * What every HTML page route shares: a CSP nonce per response, the pages' Content-Security-Policy, and the browser
 * bundles read from web-dist/ with their content hash (pages name a bundle `?v={hash}`, so a browser caches it for
 * good and a new build is a new URL). The resolver's shopper page, the stall displays and the safety centre use it.
 */
import { createHash, randomBytes } from "node:crypto";
import { readFile, stat } from "node:fs/promises";

/** Where web/bundle.ts writes the browser bundles. */
export const WEB_DIST = new URL("../../web-dist/", import.meta.url);

/** The bundles served under /assets/ (web/bundle.ts WEB_BUNDLES). */
export const ASSETS = ["shopper.js", "verify.js", "stall.js", "market.js"] as const;
export type AssetName = (typeof ASSETS)[number];

export function nonce(): string {
  return randomBytes(16).toString("base64");
}

/**
 * The CSP of every page: only our own inline style and script (by nonce), our bundles, RPC to the chain, and (for
 * the displays' live updates) our own event stream.
 */
export function contentSecurityPolicy(n: string, rpcUrl: string): string {
  let rpcOrigin = "";
  try {
    rpcOrigin = new URL(rpcUrl).origin;
  } catch {
    rpcOrigin = "";
  }
  return [
    "default-src 'none'",
    `script-src 'self' 'nonce-${n}' 'wasm-unsafe-eval'`,
    `style-src 'nonce-${n}'`,
    `connect-src 'self' ${rpcOrigin}`.trim(),
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

export interface Asset {
  readonly source: Buffer;
  /** The first 16 base64url characters of the bundle's sha256. */
  readonly hash: string;
}

/** Each bundle's bytes and content hash, re-read when its file changes (npm start rebuilds them). */
export class AssetReader {
  private readonly dir: URL;
  private readonly loaded = new Map<string, { mtimeMs: number } & Asset>();

  constructor(dir: URL = WEB_DIST) {
    this.dir = dir;
  }

  /** The bundle, or undefined while it is not built. */
  async get(file: AssetName): Promise<Asset | undefined> {
    const url = new URL(file, this.dir);
    let mtimeMs: number;
    try {
      mtimeMs = (await stat(url)).mtimeMs;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
    const known = this.loaded.get(file);
    if (known?.mtimeMs === mtimeMs) return known;
    const source = await readFile(url);
    const asset = { mtimeMs, source, hash: createHash("sha256").update(source).digest("base64url").slice(0, 16) };
    this.loaded.set(file, asset);
    return asset;
  }

  /** The URL a page names the bundle by: with its hash once built. */
  async url(file: AssetName): Promise<string> {
    const asset = await this.get(file);
    return asset ? `/assets/${file}?v=${asset.hash}` : `/assets/${file}`;
  }
}
