/**
 * The relay at market rate (issue 9 item 4): lifecycle events relayed and confirmed per second on the local chain
 * (anvil as `npm start` runs it: mined on demand, final once confirmed and held by a durable snapshot), and gas per
 * event, with the relay sending 1, 10 and 50 events per transaction (RELAY_GROUP_SIZE). Each size gets its own API
 * process, data directory and chain:
 * - set-up (not timed): 1,000 lots registered by the cooperative and relayed (in groups of 50, whatever the size
 *   measured, so the single-call run does not spend minutes on it), then the API restarted with the size measured;
 * - the burst: 2,000 hand-offs, the cooperative offering each lot to the wholesaler (two requests of 500, 2 in
 *   flight) and then the wholesaler accepting each (the same), POSTed through the real ingest path;
 * - timed from the first POST of the burst until `/healthz` shows no relay row pending, sent or unread;
 * - gas from the chain alone: every transaction of the relayer's account mined during the burst, its receipt's gas
 *   used, over the hand-off events their receipts hold.
 * Each figure is reported beside the one-event-per-transaction run of the same suite, with the ratio.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Interface, JsonRpcProvider } from "ethers";
import { abiOf } from "../../ledger-api/src/chain/contracts.ts";
import { LedgerClient } from "../../ledger-api/src/client/client.ts";
import { LOCAL_KEYS, demoWallet } from "../../ledger-api/src/demo/load.ts";
import { demoActors } from "../../ledger-api/src/demo/story.ts";
import type { EventSource } from "../lib/events.ts";
import { freePort, type Served } from "../lib/processes.ts";
import type { BenchContext, BenchModule, Figure } from "../lib/types.ts";

const GROUP_SIZES = [1, 10, 50] as const;
const PER_REQUEST = 500;
const GTIN = "08801234000017";
const GOAL_EVENTS_PER_SECOND = 200;

interface BurstRun {
  readonly groupSize: number;
  readonly events: number;
  readonly seconds: number;
  readonly eventsPerSecond: number;
  /** Seconds the burst's POSTs took (ingest), inside `seconds`. */
  readonly ingestSeconds: number;
  readonly transactions: number;
  readonly blocks: number;
  readonly gasPerEvent: number;
  /** Hand-off events the relayer's transactions recorded (every one of the burst, unless some were refused). */
  readonly recorded: number;
}

interface RelayHealth {
  readonly relay: { readonly pending: number; readonly sent: number; readonly unread: number } | null;
}

/** The relay's queue from /healthz (its body is read whatever the status: 503 while anything is wrong). */
async function relayQueue(url: string): Promise<number | undefined> {
  try {
    const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5000) });
    const { relay } = (await res.json()) as RelayHealth;
    return relay === null ? undefined : relay.pending + relay.sent + relay.unread;
  } catch {
    return undefined;
  }
}

/** Polls until the relay has nothing pending, sent or unread; the time it saw that, or throws after `timeoutMs`. */
async function relayDrained(url: string, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if ((await relayQueue(url)) === 0) return performance.now();
    if (performance.now() > deadline) throw new Error(`the relay did not drain within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function sourceOf(domain: Awaited<ReturnType<LedgerClient["domain"]>>, keyIndex: number, lots: readonly string[]): EventSource {
  const wallet = demoWallet(keyIndex);
  return {
    domain: { name: String(domain.name), version: String(domain.version), chainId: String(domain.chainId), verifyingContract: String(domain.verifyingContract) },
    signer: { address: wallet.address, privateKey: wallet.privateKey },
    gtin: GTIN,
    lots,
  };
}

/** Gas and hand-off events of the relayer's transactions in blocks (from, to]. */
async function relayedOnChain(chainUrl: string, ledger: string, from: number, to: number) {
  const provider = new JsonRpcProvider(chainUrl, undefined, { staticNetwork: true, cacheTimeout: -1 });
  try {
    const iface = new Interface(abiOf("ProvenanceLedger"));
    const topics = new Set(["HandOffOffered", "HandOffAccepted"].map((name) => iface.getEvent(name)!.topicHash));
    const relayer = demoWallet(LOCAL_KEYS.relayer).address.toLowerCase();
    let gas = 0n;
    let transactions = 0;
    let recorded = 0;
    for (let n = from + 1; n <= to; n++) {
      const block = await provider.getBlock(n, true);
      for (const tx of block?.prefetchedTransactions ?? []) {
        if (tx.from.toLowerCase() !== relayer || tx.to?.toLowerCase() !== ledger.toLowerCase()) continue;
        const receipt = await provider.getTransactionReceipt(tx.hash);
        if (receipt === null) throw new Error(`no receipt for ${tx.hash} in block ${n}`);
        transactions++;
        gas += receipt.gasUsed;
        recorded += receipt.logs.filter((log) => topics.has(log.topics[0] ?? "")).length;
      }
    }
    return { gas, transactions, recorded };
  } finally {
    provider.destroy();
  }
}

async function blockNumber(chainUrl: string): Promise<number> {
  const provider = new JsonRpcProvider(chainUrl, undefined, { staticNetwork: true, cacheTimeout: -1 });
  try {
    return await provider.getBlockNumber();
  } finally {
    provider.destroy();
  }
}

async function burst(ctx: BenchContext, groupSize: number, lotCount: number): Promise<BurstRun> {
  const requests = Math.ceil(lotCount / PER_REQUEST);
  const perRequest = Math.ceil(lotCount / requests);
  const lots = Array.from({ length: requests * perRequest }, (_, i) => `RELAY-${i}`);
  const dir = await mkdtemp(path.join(tmpdir(), "ledger-bench-relay-"));
  const start = async (size: number): Promise<{ api: Served; chainUrl: string }> => {
    const chainPort = await freePort();
    const api = await ctx.startApi({ dataDir: dir, env: { RELAY_GROUP_SIZE: String(size), CHAIN_PORT: String(chainPort) } });
    return { api, chainUrl: `http://127.0.0.1:${chainPort}` };
  };
  let served = await start(50);
  try {
    const domain = await new LedgerClient(served.api.url).domain();
    const cooperative = sourceOf(domain, demoActors.cooperative.keyIndex, lots);
    const wholesaler = sourceOf(domain, demoActors.wholesaler.keyIndex, lots);
    ctx.note(`relay, ${groupSize} per transaction: registering ${lots.length} lots (relayed 50 per transaction)`);
    const registrations = await ctx.bodies.make(cooperative, "registered", requests, perRequest);
    const registered = await ctx.load({ url: `${served.api.url}/v1/events`, method: "POST", connections: 2, bodies: registrations });
    if (registered.failed > 0) throw new Error(`${registered.failed} registration requests failed`);
    await relayDrained(served.api.url, 600_000);
    await served.api.stop();
    served = await start(groupSize);

    const [offers, accepts] = await Promise.all([
      ctx.bodies.make(cooperative, "offered", requests, perRequest, wholesaler.signer.address),
      ctx.bodies.make(wholesaler, "accepted", requests, perRequest, cooperative.signer.address),
    ]);
    const url = `${served.api.url}/v1/events`;
    const fromBlock = await blockNumber(served.chainUrl);
    ctx.note(`relay, ${groupSize} per transaction: the burst, ${2 * lots.length} hand-offs`);
    const began = performance.now();
    // The acceptances after the offers: each is judged against its lot's offer, logged but not yet on chain.
    const offered = await ctx.load({ url, method: "POST", connections: 2, bodies: offers });
    const accepted = await ctx.load({ url, method: "POST", connections: 2, bodies: accepts });
    const ingestSeconds = (performance.now() - began) / 1000;
    if (offered.failed + accepted.failed > 0) throw new Error(`${offered.failed + accepted.failed} hand-off requests of the burst failed`);
    const drained = await relayDrained(served.api.url, 1_800_000);
    const seconds = (drained - began) / 1000;
    const toBlock = await blockNumber(served.chainUrl);
    const chain = await relayedOnChain(served.chainUrl, String(domain.verifyingContract), fromBlock, toBlock);
    const events = 2 * lots.length;
    return {
      groupSize,
      events,
      seconds,
      eventsPerSecond: events / seconds,
      ingestSeconds,
      transactions: chain.transactions,
      blocks: toBlock - fromBlock,
      gasPerEvent: chain.recorded === 0 ? NaN : Number(chain.gas) / chain.recorded,
      recorded: chain.recorded,
    };
  } finally {
    await served.api.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

export const relay: BenchModule = {
  name: "relay",
  description: "lifecycle events relayed and confirmed per second after a burst of hand-offs, and gas per event, at 1, 10 and 50 per transaction",
  async run(ctx: BenchContext): Promise<Figure[]> {
    const lotCount = Math.max(10, Math.round(1000 * ctx.scale));
    const runs: BurstRun[] = [];
    for (const size of GROUP_SIZES) {
      const run = await burst(ctx, size, lotCount);
      ctx.note(
        `relay, ${size} per transaction: ${run.eventsPerSecond.toFixed(1)} events/s (${run.events} in ${run.seconds.toFixed(1)} s), ` +
          `${run.transactions} transactions, ${Math.round(run.gasPerEvent).toLocaleString("en")} gas per event`,
      );
      runs.push(run);
    }
    const single = runs[0]!;
    const figures: Figure[] = [];
    for (const run of runs) {
      const baseline = run === single ? undefined : { what: "1 per transaction (single calls), same run", value: single.eventsPerSecond };
      figures.push({
        id: `relay.rate.${run.groupSize}`,
        what: `lifecycle events relayed and confirmed after a burst (${run.events.toLocaleString("en")} hand-offs over ${(run.events / 2).toLocaleString("en")} lots), ${run.groupSize} per transaction`,
        value: run.eventsPerSecond,
        unit: "events/s",
        ...(baseline ? { baseline } : {}),
        goal: { text: `>= ${GOAL_EVENTS_PER_SECOND} events/s`, met: run.eventsPerSecond >= GOAL_EVENTS_PER_SECOND },
        detail: {
          burstMs: Math.round(run.seconds * 1000),
          ingestMs: Math.round(run.ingestSeconds * 1000),
          transactions: run.transactions,
          blocks: run.blocks,
          recorded: run.recorded,
        },
      });
    }
    for (const run of runs) {
      const saved = 1 - run.gasPerEvent / single.gasPerEvent;
      figures.push({
        id: `relay.gas.${run.groupSize}`,
        what: `gas per relayed hand-off event, ${run.groupSize} per transaction`,
        value: run.gasPerEvent,
        unit: "gas",
        ...(run === single ? {} : { baseline: { what: "1 per transaction (single calls), same run", value: single.gasPerEvent } }),
        ...(run.groupSize === 50 ? { goal: { text: ">= 25% less than 1 per transaction", met: saved >= 0.25 } } : {}),
        detail: { savedVsSingle: `${(saved * 100).toFixed(1)} %`, transactions: run.transactions, recorded: run.recorded },
      });
    }
    return figures;
  },
};
