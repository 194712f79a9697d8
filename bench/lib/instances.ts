/**
 * Several API instances, measured (bench/modules/instances.ts, and scripts/bench-instances.ts on its own): ingest and
 * provenance throughput with one instance on SQLite, one on PostgreSQL and three on PostgreSQL, and the takeover time
 * after the leader is killed. Each setup gets a fresh anvil chain (test/api/instances.ts) and, for PostgreSQL, a fresh
 * database on a private throwaway cluster with durable settings (fsync and synchronous_commit on;
 * test/api/store/postgres-cluster.ts). Instances are separate processes (`node ledger-api/src/main.ts`) with their
 * background work running (relay, indexer, anchorer on the leader).
 *
 * - ingest: autocannon POSTs pre-signed one-event requests (distinct Registered events), `events` in all, over
 *   `connections` connections split evenly across the instances; events/s = 202 answers / wall time.
 * - provenance: autocannon GETs /v1/batches/{path}/provenance of eight batches with a six-event history each, for
 *   `seconds`, the same way.
 * - takeover: with three instances on PostgreSQL, the leader is killed with SIGKILL `kills` times; the time from the
 *   kill to another instance's /healthz saying it leads (its workers started), at LEADER_LEASE_MS `leaseMs`.
 *
 * Two cores limit the absolute figures, and with three instances plus PostgreSQL plus the load generator on two
 * cores, scaling out cannot show more throughput here; the ratios show what the coordination costs.
 */
import autocannon from "autocannon";
import { failuresOf } from "./load.ts";
import { ledgerDomain } from "../../ledger-api/src/protocol/typed-data.ts";
import { signEvent } from "../../ledger-api/src/client/client.ts";
import { demoWallets } from "../../ledger-api/src/demo/load.ts";
import type { EventDoc } from "../../ledger-api/src/protocol/documents.ts";
import { health, leaderOf, startInstance, startSharedChain, type Instance, type SharedChain } from "../../test/api/instances.ts";
import { startPgCluster, type PgCluster } from "../../test/api/store/postgres-cluster.ts";

export interface InstancesOptions {
  readonly events: number;
  readonly seconds: number;
  readonly connections: number;
  readonly kills: number;
  readonly leaseMs: number;
  readonly note: (message: string) => void;
}

export interface Figures {
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
  /** Requests that were not answered 2xx. */
  readonly errors: number;
  /** Those by status code, connection errors and timeouts (load.ts failuresOf). */
  readonly failures: Readonly<Record<string, number>>;
}

export interface Setup {
  readonly name: string;
  readonly instances: number;
  readonly postgres: boolean;
}

export const SETUPS: readonly Setup[] = [
  { name: "1 instance, SQLite", instances: 1, postgres: false },
  { name: "1 instance, PostgreSQL", instances: 1, postgres: true },
  { name: "3 instances, PostgreSQL", instances: 3, postgres: true },
];

export interface InstancesResult {
  readonly rows: readonly { readonly setup: Setup; readonly ingest: Figures; readonly provenance: Figures }[];
  /** Milliseconds from each kill of the leader to another instance leading. */
  readonly takeoverMs: readonly number[];
}

export const GTIN = "08801234000017";
const wallets = demoWallets();

const hoursAgo = (h: number): string => new Date(Date.now() - h * 3_600_000).toISOString().replace(/\.\d{3}Z$/, "Z");
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The Registered event of lot `lot` of the benchmarks' GTIN. */
export const registered = (lot: string): EventDoc => ({
  kind: "Registered",
  batch: { gtin: GTIN, lot },
  occurredAt: hoursAgo(10),
  product: "Jeju Hallabong tangerines",
  origin: { country: "KR", region: "Jeju-do", farm: { name: "Orchard 3" } },
  harvestDate: hoursAgo(30).slice(0, 10),
  quantity: { value: 100, unit: "kg" },
  imported: false,
});

/** A six-event history (five of them relayed) for the provenance reads. */
function history(lot: string): { actor: "cooperative" | "lab" | "wholesaler"; doc: EventDoc }[] {
  const batch = { gtin: GTIN, lot };
  return [
    { actor: "cooperative", doc: registered(lot) },
    {
      actor: "cooperative",
      doc: {
        kind: "PesticideApplied", batch, occurredAt: hoursAgo(9),
        substance: { name: "Imidacloprid", casNumber: "138261-41-3" }, dose: { value: 0.25, unit: "L/10a" },
        preHarvestIntervalDays: 21,
      },
    },
    {
      actor: "lab",
      doc: {
        kind: "Inspected", batch, occurredAt: hoursAgo(8), lab: { name: "Seogwipo Lab" }, method: "LC-MS/MS",
        analytes: [{ name: "Chlorpyrifos", value: 0, limit: 0.01, unit: "mg/kg" }], passed: true,
      },
    },
    { actor: "cooperative", doc: { kind: "HandOffOffered", batch, occurredAt: hoursAgo(7), to: wallets.wholesaler.address } },
    { actor: "wholesaler", doc: { kind: "HandOffAccepted", batch, occurredAt: hoursAgo(6), from: wallets.cooperative.address } },
    {
      actor: "wholesaler",
      doc: { kind: "Observed", batch, occurredAt: hoursAgo(5), readings: [{ type: "Temperature", value: 7.5, unit: "Cel" }] },
    },
  ];
}


/** Runs one autocannon per instance in parallel, the connections split among them; sums what they did. */
async function load(
  instances: readonly Instance[],
  request: (slot: number) => autocannon.Options,
): Promise<Figures> {
  const started = performance.now();
  const results = await Promise.all(instances.map((_, slot) => autocannon(request(slot))));
  const wall = (performance.now() - started) / 1000;
  const ok = results.reduce((n, r) => n + r["2xx"], 0);
  const failures = failuresOf(results);
  // Latency: the slowest instance's percentiles (a client behind a balancer sees any of them).
  return {
    perSecond: ok / wall,
    p50: Math.max(...results.map((r) => r.latency.p50)),
    p99: Math.max(...results.map((r) => r.latency.p99)),
    errors: Object.values(failures).reduce((a, b) => a + b, 0),
    failures,
  };
}

async function ingest(o: InstancesOptions, instances: readonly Instance[], chain: SharedChain, tag: string): Promise<Figures> {
  const domain = ledgerDomain(BigInt(chain.deployments.chainId), chain.deployments.ledger);
  const bodies: string[] = [];
  for (let i = 0; i < o.events; i++) {
    bodies.push(JSON.stringify(await signEvent(wallets.cooperative, domain, registered(`B-${tag}-${i}`))));
  }
  const share = Math.floor(o.events / instances.length);
  return load(instances, (slot) => {
    const mine = bodies.slice(slot * share, (slot + 1) * share);
    let next = 0;
    return {
      url: instances[slot]!.url,
      connections: Math.max(1, Math.floor(o.connections / instances.length)),
      amount: mine.length,
      timeout: 30,
      requests: [
        {
          method: "POST",
          path: "/v1/events",
          headers: { "content-type": "application/json" },
          setupRequest: (req) => ({ ...req, body: mine[next++ % mine.length] }),
        },
      ],
    };
  });
}

async function provenance(o: InstancesOptions, instances: readonly Instance[], chain: SharedChain, tag: string): Promise<Figures> {
  const domain = ledgerDomain(BigInt(chain.deployments.chainId), chain.deployments.ledger);
  const lots = Array.from({ length: 8 }, (_, i) => `P-${tag}-${i}`);
  for (const lot of lots) {
    for (const step of history(lot)) {
      const res = await fetch(`${instances[0]!.url}/v1/events`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(await signEvent(wallets[step.actor], domain, step.doc)),
      });
      if (res.status !== 202) throw new Error(`history refused: ${await res.text()}`);
    }
  }
  // Read once everything is relayed and indexed, so every answer is the full one.
  for (;;) {
    const h = await health(instances[0]!);
    const res = await fetch(`${instances[0]!.url}/v1/batches/${encodeURIComponent(`/01/${GTIN}/10/${lots.at(-1)}`)}/provenance`);
    const answer = (await res.json()) as { timeline?: unknown[] };
    if (h !== undefined && answer.timeline?.length === 6) break;
    await sleep(200);
  }
  const paths = lots.map((lot) => `/v1/batches/${encodeURIComponent(`/01/${GTIN}/10/${lot}`)}/provenance`);
  return load(instances, (slot) => ({
    url: instances[slot]!.url,
    connections: Math.max(1, Math.floor(o.connections / instances.length)),
    duration: o.seconds,
    requests: paths.map((path) => ({ method: "GET" as const, path })),
  }));
}

/** Kills the leader `o.kills` times (a replacement started after each); the time until another instance leads. */
async function takeovers(o: InstancesOptions, instances: Instance[], start: () => Promise<Instance>): Promise<number[]> {
  const times: number[] = [];
  for (let k = 0; k < o.kills; k++) {
    const leader = await leaderOf(instances);
    instances.splice(instances.indexOf(leader), 1);
    const killed = performance.now();
    leader.process.kill("SIGKILL");
    for (;;) {
      const states = await Promise.all(instances.map(health));
      if (states.some((h) => h?.leader.leading)) break;
      await sleep(20);
    }
    times.push(performance.now() - killed);
    await leader.kill();
    instances.push(await start());
    await sleep(1000);
  }
  return times;
}

/** Runs every setup in turn; everything it started is stopped when it returns, throws or is interrupted. */
export async function measureInstances(o: InstancesOptions): Promise<InstancesResult> {
  const cluster: PgCluster = await startPgCluster();
  // Interrupted (Ctrl-C): stop what is running, as the finally blocks below would.
  const running = { chain: undefined as SharedChain | undefined, instances: [] as Instance[] };
  const interrupted = (): void => {
    void Promise.allSettled([...running.instances.map((i) => i.kill()), running.chain?.stop()])
      .then(() => cluster.stop())
      .finally(() => process.exit(130));
  };
  process.once("SIGINT", interrupted);
  process.once("SIGTERM", interrupted);
  const rows: { setup: Setup; ingest: Figures; provenance: Figures }[] = [];
  let takeoverMs: number[] = [];
  try {
    for (const setup of SETUPS) {
      const chain = await startSharedChain();
      const databaseUrl = setup.postgres ? await cluster.createDatabase() : undefined;
      const instances: Instance[] = [];
      running.chain = chain;
      running.instances = instances;
      let n = 0;
      const start = () =>
        startInstance({ chain, databaseUrl, name: `bench-${n++}`, env: { LEADER_LEASE_MS: String(o.leaseMs), LOG_LEVEL: "error" } });
      try {
        for (let i = 0; i < setup.instances; i++) instances.push(await start());
        const tag = `S${SETUPS.indexOf(setup)}`;
        o.note(`${setup.name}: ingest of ${o.events} events`);
        const ing = await ingest(o, instances, chain, tag);
        o.note(`${setup.name}: provenance reads for ${o.seconds} s`);
        const prov = await provenance(o, instances, chain, tag);
        rows.push({ setup, ingest: ing, provenance: prov });
        if (setup.instances === 3 && o.kills > 0) {
          o.note(`${setup.name}: killing the leader ${o.kills} times`);
          takeoverMs = await takeovers(o, instances, start);
        }
      } finally {
        await Promise.all(instances.map((i) => i.kill()));
        await chain.stop();
      }
    }
  } finally {
    process.removeListener("SIGINT", interrupted);
    process.removeListener("SIGTERM", interrupted);
    await cluster.stop();
  }
  return { rows, takeoverMs };
}
