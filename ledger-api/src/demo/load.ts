/**
 * Loads the demo story through the public API, as the parties' own systems would: each step is signed by its actor
 * and submitted over HTTP with the client module. Nothing is written to the store directly.
 *
 * Resumable and idempotent: `npm start` submits the whole story at every start (DEMO=0 skips it). Every step is the
 * same signed event each time: the story's times and the signatures' deadline are fixed at the first start and
 * recorded in the data directory (`demo.json`, see demoClock), and each step's nonce is derived from its position, so
 * a step already logged is answered with its original receipt (a duplicate) and a load interrupted after any step
 * (Ctrl-C, a kill) is completed by the next start.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import path from "node:path";
import { HDNodeWallet, keccak256, NonceManager, toUtf8Bytes, type Provider } from "ethers";
import { deployContracts, readDeployments, writeDeployments, type Deployments } from "../chain/contracts.ts";
import { applyGrants } from "../chain/roles.ts";
import { LedgerApiError, LedgerClient, signEvent } from "../client/client.ts";
import { DEV_MNEMONIC } from "../chain/local-chain.ts";
import { demoActors, demoBatches, demoStory, type DemoActor, type DemoActorName } from "./story.ts";
import { demoMarketStory, marketStalls, withRecallHash, type MarketStallName, type MarketStep } from "./market-story.ts";
import { formatDigitalLink } from "../gs1/digital-link.ts";

export function demoWallet(keyIndex: number): HDNodeWallet {
  return HDNodeWallet.fromPhrase(DEV_MNEMONIC, undefined, `m/44'/60'/0'/0/${keyIndex}`);
}

/** Every demo actor: the story's and the demo market's stalls (market-story.ts). */
export const allDemoActors: Readonly<Record<DemoActorName | MarketStallName, DemoActor>> = { ...demoActors, ...marketStalls };

export function demoWallets(): Record<DemoActorName | MarketStallName, HDNodeWallet> {
  return Object.fromEntries(
    Object.entries(allDemoActors).map(([name, actor]) => [name, demoWallet(actor.keyIndex)]),
  ) as Record<DemoActorName | MarketStallName, HDNodeWallet>;
}

/** What makes every step of the demo the same signed event at every start. */
export interface DemoClock {
  /** The story is dated relative to this (demoStory's `now`), RFC 3339 to the second. */
  readonly startedAt: string;
  /** Every step's signature deadline, unix seconds: far enough ahead for a load resumed years later. */
  readonly deadline: number;
}

/** The file in the data directory that fixes the demo's clock. */
export const DEMO_CLOCK_FILE = "demo.json";
const DEADLINE_AFTER_S = 5 * 365 * 86_400;

/** A clock fixed at `now`. */
export function newDemoClock(now = new Date()): DemoClock {
  const seconds = Math.floor(now.getTime() / 1000);
  return { startedAt: new Date(seconds * 1000).toISOString().replace(".000Z", "Z"), deadline: seconds + DEADLINE_AFTER_S };
}

/**
 * The demo's clock for the data directory `dataDir`: the one recorded there, or, at the first start, a new one fixed
 * at `now` and recorded before any step is submitted (written to a temporary file, fsynced, renamed over, so a crash
 * leaves either no clock or the whole one).
 */
export function demoClock(dataDir: string, now = new Date()): DemoClock {
  const file = path.join(dataDir, DEMO_CLOCK_FILE);
  let text: string | undefined;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  if (text !== undefined) {
    const parsed = JSON.parse(text) as Partial<DemoClock>;
    if (typeof parsed.startedAt !== "string" || !Number.isFinite(Date.parse(parsed.startedAt)) || !Number.isInteger(parsed.deadline)) {
      throw new Error(`${file} is not a demo clock ({"startedAt": RFC 3339, "deadline": unix seconds}); remove the data directory to start over`);
    }
    return { startedAt: parsed.startedAt, deadline: parsed.deadline as number };
  }
  const clock = newDemoClock(now);
  const temporary = `${file}.${process.pid}.tmp`;
  const fd = openSync(temporary, "w");
  try {
    writeSync(fd, `${JSON.stringify(clock)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, file);
  return clock;
}

/** Step `step`'s nonce: the same at every start, distinct per step and per clock. */
export function demoNonce(clock: DemoClock, step: number): bigint {
  return BigInt(keccak256(toUtf8Bytes(`provenance-ledger demo ${clock.startedAt} step ${step}`)));
}

/** What a load of the demo did. */
export interface DemoLoad {
  readonly steps: number;
  /** Steps logged by this load. */
  readonly logged: number;
  /** Steps a previous load had logged (answered with their receipts). */
  readonly alreadyLogged: number;
  /** Steps the ledger refused (e.g. a demo batch since moved on by hand), with the code and message. */
  readonly refused: readonly { readonly step: number; readonly code: string; readonly message: string }[];
}

export interface LoadDemoOptions {
  /** Default: a clock fixed now (a one-off load; `npm start` passes the data directory's). */
  readonly clock?: DemoClock;
  /** Called after each step is answered, with the number of steps answered so far. */
  readonly onStep?: (answered: number) => void;
  /**
   * Also tell the demo market (market-story.ts: eleven more stalls, a dozen lots from seven countries, a recall
   * reaching three stalls), after the story. `npm start` does; its stalls need their roles (ensureDemoDeployment).
   */
  readonly market?: boolean;
}

/**
 * Submits every step of the demo story to the ledger at `baseUrl`, in order, one request each. A step the ledger
 * refuses is reported and the load goes on; anything else (the server unreachable) throws, and the next load resumes.
 */
export async function loadDemo(baseUrl: string, options: LoadDemoOptions = {}): Promise<DemoLoad> {
  const clock = options.clock ?? newDemoClock();
  const client = new LedgerClient(baseUrl);
  const wallets = demoWallets();
  const domain = await client.domain();
  const now = new Date(clock.startedAt);
  const story: MarketStep[] = demoStory(now, (name) => wallets[name].address);
  // The market's steps come after the story's, so a data directory loaded before keeps its steps' nonces.
  const offset = story.length;
  if (options.market) {
    story.push(...demoMarketStory(now, (name) => wallets[name].address).map((s) => (s.acknowledges === undefined ? s : { ...s, acknowledges: s.acknowledges + offset })));
  }
  const hashes = new Map<number, string>();
  let logged = 0;
  let alreadyLogged = 0;
  const refused: { step: number; code: string; message: string }[] = [];
  for (const [i, step] of story.entries()) {
    const actor = step.actor as DemoActorName | MarketStallName;
    // An acknowledgement names its recall's event hash, known once the recall step was answered.
    const recallHash = step.acknowledges === undefined ? undefined : hashes.get(step.acknowledges);
    const doc = recallHash === undefined ? step.doc : withRecallHash(step.doc, recallHash);
    const signed = await signEvent(wallets[actor], domain, doc, { nonce: demoNonce(clock, i), deadline: clock.deadline });
    try {
      const [receipt] = await client.submit([signed]);
      if (receipt) hashes.set(i, receipt.eventHash);
      if (receipt?.duplicate) alreadyLogged++;
      else logged++;
    } catch (err) {
      if (!(err instanceof LedgerApiError)) throw err;
      refused.push({ step: i, code: err.code, message: String(err.body.message ?? err.message) });
    }
    options.onStep?.(i + 1);
  }
  return { steps: story.length, logged, alreadyLogged, refused };
}

/** One line on what a load did, as `npm start` prints it. */
export function describeDemoLoad(load: DemoLoad): string {
  const refused = load.refused.map((r) => `\n  step ${r.step}: ${r.code} ${r.message}`).join("");
  return (
    `Demo story: ${load.steps} signed events, ${load.logged} logged now, ${load.alreadyLogged} already in the log` +
    (load.refused.length > 0 ? `, ${load.refused.length} refused:${refused}` : "")
  );
}

/** What demoRolesIndexed reads of the chain index (the store's IndexStore). */
export interface RoleIndex {
  rolesOf(account: string): Promise<readonly unknown[]>;
}

/**
 * Resolves once the chain index holds every demo actor's roles (the ingest rules read roles from it), polling every
 * `pollMs`; rejects after `timeoutMs`. Right after the deployment the grants may not be indexed yet.
 */
export async function demoRolesIndexed(store: RoleIndex, timeoutMs = 60_000, pollMs = 200): Promise<void> {
  const wallets = demoWallets();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const held = await Promise.all(Object.values(wallets).map(async (w) => (await store.rolesOf(w.address)).length > 0));
    if (held.every(Boolean)) return;
    if (Date.now() > deadline) throw new Error(`the demo actors' roles were not indexed within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/** The demo batches' Digital Link URLs: what their QR codes hold. */
export function demoBatchUrls(publicBaseUrl: string): { label: string; url: string }[] {
  const { tangerines, tangerineStallLots, beef, spinach } = demoBatches;
  return [
    { label: "Jeju tangerines (farm lot)", keys: tangerines },
    { label: "Jeju tangerines, stall lot at Mangwon Market", keys: tangerineStallLots[0] },
    { label: "Australian beef (imported, customs cleared)", keys: beef },
    { label: "Namyangju spinach (RECALLED)", keys: spinach },
  ].map(({ label, keys }) => ({ label, url: formatDigitalLink(publicBaseUrl, keys) }));
}

/** The market's screens in the demo: the safety centre and each stall's display. */
export function demoMarketUrls(publicBaseUrl: string): { label: string; url: string }[] {
  const stalls = Object.values(allDemoActors).filter((a) => a.profile.retail);
  return [
    { label: "Market safety centre", url: `${publicBaseUrl}/market` },
    ...stalls.map((a) => ({ label: `Display of ${a.profile.name}`, url: `${publicBaseUrl}/stalls/${a.profile.gln}/display` })),
  ];
}

/** Dev-mnemonic key indices of the local chain's operators (the demo actors use 3 and up). */
export const LOCAL_KEYS = { deployer: 0, relayer: 1, anchorer: 2 } as const;

/**
 * The contracts of a local development chain: deployed by dev key 0 on first use, with the relayer, the anchorer and
 * the demo actors granted their roles, and recorded in `file`; later calls reuse them while the chain still has them.
 */
export async function ensureDemoDeployment(provider: Provider, file: string): Promise<Deployments> {
  const existing = readDeployments(file);
  if (existing && (await provider.getCode(existing.ledger)) !== "0x") return existing;
  const deployer = new NonceManager(demoWallet(LOCAL_KEYS.deployer).connect(provider));
  const deployments = await deployContracts(deployer, await deployer.getAddress());
  const wallets = demoWallets();
  await applyGrants(deployer, deployments, [
    { account: demoWallet(LOCAL_KEYS.relayer).address, roles: ["RELAYER"] },
    { account: demoWallet(LOCAL_KEYS.anchorer).address, roles: ["ANCHORER"] },
    ...Object.entries(allDemoActors).map(([name, actor]) => ({
      account: wallets[name as DemoActorName | MarketStallName].address,
      roles: actor.roles,
      profile: actor.profile,
    })),
  ], { pipelined: true });
  writeDeployments(file, deployments);
  return deployments;
}
