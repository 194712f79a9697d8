/**
 * The verify command's logic, with everything environment-specific injected (`VerifyIo`), so tests run it in process
 * and scripts/verify.ts stays a thin wrapper:
 *
 *   npm run verify -- <Digital Link URL | path | 0x batchId> [--api URL] [--rpc URL]
 *                     [--ledger ADDRESS --anchor ADDRESS | --deployments FILE] [--all-observations] [--json]
 *
 * `--all-observations` also reads every page of the lot's older observations (GET /v1/batches/{id}/observations from
 * the answer's `observations.next`), verifies each entry on its own, checks that the pages fill the answer's history
 * without a gap and recounts the answer's summary from them: the counts and extremes are then no longer the server's
 * word.
 *
 * A Digital Link URL names the API too: its base is everything before `/01/` (the QR code holds
 * `{PUBLIC_BASE_URL}/01/{gtin}/10/{lot}`). Defaults: API http://127.0.0.1:8080, RPC http://127.0.0.1:8545, contracts
 * from --deployments, else DEPLOYMENTS_FILE, else data/deployments.json when it exists (what `npm start` writes);
 * with none of these the contracts come from the answer and stay pending (the answer cannot vouch for itself).
 *
 * Exit status: 0 every fact verified; 1 some fact failed; 2 nothing failed but something is pending (not yet
 * anchored or not yet on chain; try again later); 3 could not verify (bad arguments, the answer could not be
 * fetched, the RPC could not be read).
 */
import { getAddress } from "ethers";
import { parseBatchRef } from "../gs1/digital-link.ts";
import type { Provenance } from "../protocol/answer.ts";
import type { ChainReader } from "./chain-reader.ts";
import { verifyObservationPages, verifyProvenance, worst, type Check, type PagesVerification, type Status, type Verification } from "./verify.ts";

/** Pages read at most by --all-observations (200 observations each): a bound on what one command fetches. */
const MAX_PAGES = 10_000;

export const EXIT = Object.freeze({ verified: 0, failed: 1, pending: 2, error: 3 } as const);

export interface VerifyIo {
  /** WHATWG fetch (global fetch in Node and browsers; an app.inject wrapper in tests). */
  readonly fetch: (url: string, init?: { headers?: Record<string, string> }) => Promise<{
    readonly ok: boolean;
    readonly status: number;
    json(): Promise<unknown>;
    text(): Promise<string>;
  }>;
  /** A ChainReader for the RPC URL. */
  readonly reader: (rpcUrl: string) => ChainReader;
  /** Reads a text file, or undefined when it does not exist. */
  readonly readFile: (path: string) => string | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  /** Gives up reading the chain after this long (default 60 s): an unreachable RPC must not hang the command. */
  readonly timeoutMs?: number;
}

export interface VerifyArgs {
  readonly target: string;
  readonly api: string;
  readonly rpc: string;
  readonly ledger?: string;
  readonly anchor?: string;
  readonly deployments?: string;
  readonly json: boolean;
  readonly allObservations: boolean;
}

export const DEFAULT_API = "http://127.0.0.1:8080";
export const DEFAULT_RPC = "http://127.0.0.1:8545";

const USAGE =
  "usage: npm run verify -- <Digital Link URL | path | 0x batchId> [--api URL] [--rpc URL] " +
  "[--ledger ADDRESS --anchor ADDRESS | --deployments FILE] [--all-observations] [--json]";

class UsageError extends Error {}

/** Parses the command line; throws UsageError. */
export function parseVerifyArgs(argv: readonly string[]): VerifyArgs {
  const options: Record<string, string> = {};
  let json = false;
  let allObservations = false;
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--json") json = true;
    else if (arg === "--all-observations") allObservations = true;
    else if (arg === "--help" || arg === "-h") throw new UsageError(USAGE);
    else if (arg.startsWith("--")) {
      const [name, inline] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
      if (!["api", "rpc", "ledger", "anchor", "deployments"].includes(name)) throw new UsageError(`unknown option --${name}\n${USAGE}`);
      const value = inline ?? argv[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value\n${USAGE}`);
      options[name] = value;
    } else positional.push(arg);
  }
  if (positional.length !== 1) throw new UsageError(USAGE);
  const target = positional[0]!;
  let api = options.api;
  if (api === undefined && /^https?:\/\//i.test(target)) {
    const url = new URL(target);
    const at = url.pathname.indexOf("/01/");
    if (at >= 0) api = url.origin + url.pathname.slice(0, at);
  }
  return {
    target,
    api: (api ?? DEFAULT_API).replace(/\/+$/, ""),
    rpc: options.rpc ?? DEFAULT_RPC,
    ...(options.ledger !== undefined ? { ledger: options.ledger } : {}),
    ...(options.anchor !== undefined ? { anchor: options.anchor } : {}),
    ...(options.deployments !== undefined ? { deployments: options.deployments } : {}),
    json,
    allObservations,
  };
}

interface Trust {
  readonly chainId?: number;
  readonly ledger?: string;
  readonly anchor?: string;
  readonly source: string;
}

function trustOf(args: VerifyArgs, io: VerifyIo): Trust {
  if (args.ledger !== undefined || args.anchor !== undefined) {
    if (args.ledger === undefined || args.anchor === undefined) throw new UsageError("give both --ledger and --anchor");
    return { ledger: getAddress(args.ledger), anchor: getAddress(args.anchor), source: "--ledger/--anchor" };
  }
  const explicit = args.deployments ?? (io.env.DEPLOYMENTS_FILE || undefined);
  const file = explicit ?? "data/deployments.json";
  const text = io.readFile(file);
  if (text === undefined) {
    if (explicit !== undefined) throw new UsageError(`deployments file ${file} does not exist`);
    return { source: "the answer (not pinned)" };
  }
  const d = JSON.parse(text) as { chainId?: unknown; ledger?: unknown; anchor?: unknown };
  if (typeof d.chainId !== "number" || typeof d.ledger !== "string" || typeof d.anchor !== "string") {
    throw new UsageError(`${file} is not a deployments file (needs chainId, ledger, anchor)`);
  }
  return { chainId: d.chainId, ledger: getAddress(d.ledger), anchor: getAddress(d.anchor), source: file };
}

const MARK: Record<Status, string> = { verified: "✓", pending: "…", failed: "✗" };

function line(check: Check): string {
  return `    ${MARK[check.status]} ${check.name.padEnd(10)} ${check.detail}`;
}

/** The human-readable report: a line per fact, the batch checks, a summary. */
export function formatReport(answer: Provenance, v: Verification, trustSource: string): string[] {
  const b = answer.batch;
  const out = [
    `Batch ${v.batchId}${b?.path ? ` ${b.path}` : ""}${b?.product ? ` — ${b.product}` : ""}`,
    `Chain ${v.chain.chainId} at block ${v.chain.block}: ledger ${v.chain.ledger}, log anchor ${v.chain.anchor} (from ${trustSource})`,
    "",
  ];
  for (const e of v.entries) {
    const signer = answer.timeline.find((t) => t.index === e.index)?.signer;
    const who = signer?.name ? `${signer.name} (${e.signer})` : e.signer;
    const relation = e.relation === "own" ? "" : ` [${e.relation}]`;
    out.push(`  ${MARK[e.status]} #${e.index} ${e.kind}${relation} ${e.occurredAt} by ${who}`);
    for (const c of e.checks) out.push(line(c));
  }
  out.push("", "  Batch");
  for (const c of v.batch) out.push(line(c));
  const { verified, pending, failed } = v.counts;
  const verdict = { verified: "VERIFIED", pending: "PENDING", failed: "FAILED" }[v.status];
  out.push("", `${MARK[v.status]} ${verdict}: ${verified} verified, ${pending} pending, ${failed} failed`);
  return out;
}

/** Runs the verify command; returns its exit status (EXIT). */
export async function runVerify(argv: readonly string[], io: VerifyIo): Promise<number> {
  let args: VerifyArgs;
  let trust: Trust;
  let expected: string;
  try {
    args = parseVerifyArgs(argv);
    trust = trustOf(args, io);
    expected = parseBatchRef(args.target).batchId;
  } catch (err) {
    io.err((err as Error).message);
    return EXIT.error;
  }
  const url = `${args.api}/v1/batches/${encodeURIComponent(args.target)}/provenance`;
  let answer: Provenance;
  try {
    const res = await io.fetch(url, { headers: { accept: "application/json" } });
    if (!res.ok) {
      io.err(`GET ${url}: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`);
      return EXIT.error;
    }
    answer = (await res.json()) as Provenance;
  } catch (err) {
    io.err(`GET ${url}: ${(err as Error).message}`);
    return EXIT.error;
  }
  let v: Verification;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const { source: _source, ...pins } = trust;
    const timeoutMs = io.timeoutMs ?? 60_000;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
    });
    v = await Promise.race([verifyProvenance(answer, io.reader(args.rpc), { trust: pins, batchId: expected }), timeout]);
  } catch (err) {
    io.err(`could not read the chain at ${args.rpc}: ${(err as Error).message}`);
    return EXIT.error;
  } finally {
    clearTimeout(timer);
  }
  let pages: PagesVerification | undefined;
  if (args.allObservations) {
    try {
      pages = await allObservations(args, io, answer, trust);
    } catch (err) {
      io.err(`reading the observation pages: ${(err as Error).message}`);
      return EXIT.error;
    }
  }
  if (args.json) io.out(JSON.stringify(pages ? { ...v, pages } : v, null, 2));
  else {
    for (const l of formatReport(answer, v, trust.source)) io.out(l);
    if (pages) {
      const failed = pages.entries.filter((e) => e.status === "failed");
      io.out("");
      io.out(`  Observations in pages: ${pages.entries.length} read, ${failed.length} failed`);
      for (const e of failed.slice(0, 20)) {
        io.out(`  ✗ #${e.index} ${e.kind} ${e.occurredAt}`);
        for (const c of e.checks.filter((c) => c.status === "failed")) io.out(line(c));
      }
      if (pages.observations) io.out(line(pages.observations));
    }
  }
  return EXIT[pages ? worst([v.status, pages.status]) : v.status];
}

/** Reads every page from the answer's cursor and verifies them together. */
async function allObservations(args: VerifyArgs, io: VerifyIo, answer: Provenance, trust: Trust): Promise<PagesVerification> {
  const collected: unknown[] = [];
  let cursor = answer.observations.next;
  while (cursor !== null && collected.length < MAX_PAGES) {
    const url = `${args.api}/v1/batches/${answer.batch.batchId}/observations?cursor=${cursor}&limit=200`;
    const res = await io.fetch(url, { headers: { accept: "application/json" } });
    if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
    const page = (await res.json()) as { next?: unknown };
    collected.push(page);
    cursor = typeof page.next === "string" ? page.next : null;
  }
  const { source: _source, ...pins } = trust;
  return verifyObservationPages(answer, collected, io.reader(args.rpc), { trust: pins, complete: cursor === null });
}
