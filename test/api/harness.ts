/**
 * The whole ledger in one process for API tests: Hardhat's in-process chain with the real contracts deployed and
 * the demo actors' roles granted (chain/roles.ts, as scripts/deploy.ts does), the real services on a store of either
 * driver (SQLite in a temp dir by default, or a fresh PostgreSQL database: store/drivers.ts), and the Fastify app
 * driven with `app.inject`. No mocks of our own code; workers are stepped by hand
 * with `sync()` so tests never sleep.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { network } from "hardhat";
// The connection's `ethers` and `networkHelpers` are these plugins' (registered in hardhat.config.ts); named here so
// code type-checked without the config (scripts/bench-ingest-backlog.ts) sees them too.
import type {} from "@nomicfoundation/hardhat-ethers";
import type {} from "@nomicfoundation/hardhat-network-helpers";
import { HDNodeWallet, Wallet, type TypedDataDomain } from "ethers";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../../ledger-api/src/app.ts";
import { deployContracts, type Deployments } from "../../ledger-api/src/chain/contracts.ts";
import { DEV_MNEMONIC } from "../../ledger-api/src/chain/local-chain.ts";
import { applyGrants } from "../../ledger-api/src/chain/roles.ts";
import { ledgerDomain } from "../../ledger-api/src/protocol/typed-data.ts";
import { signEvent, type SignOptions } from "../../ledger-api/src/client/client.ts";
import { loadConfig } from "../../ledger-api/src/config.ts";
import { demoActors, demoStory, type DemoActorName } from "../../ledger-api/src/demo/story.ts";
import type { EventDoc, SignedEvent } from "../../ledger-api/src/protocol/documents.ts";
import { openLedgerServices, type LedgerServices } from "../../ledger-api/src/services.ts";
import { driver as storeDriver, type DriverName, type StoreLocation } from "./store/drivers.ts";

export const { ethers, networkHelpers } = await network.create();

export type Actors = Record<DemoActorName, HDNodeWallet>;

function devWallet(index: number): HDNodeWallet {
  return HDNodeWallet.fromPhrase(DEV_MNEMONIC, undefined, `m/44'/60'/0'/0/${index}`);
}

/** Deployed contracts with the demo actors' roles and profiles, plus a funded relayer and anchorer. */
export interface Chain {
  readonly deployments: Deployments;
  readonly domain: TypedDataDomain;
  readonly actors: Actors;
  readonly relayer: Wallet | HDNodeWallet;
  readonly anchorer: Wallet | HDNodeWallet;
}

async function funded(): Promise<HDNodeWallet> {
  const w = Wallet.createRandom().connect(ethers.provider);
  await ethers.provider.send("hardhat_setBalance", [w.address, "0x56BC75E2D63100000"]);
  return w;
}

export async function deployChain(): Promise<Chain> {
  const [admin] = await ethers.getSigners();
  if (!admin) throw new Error("no signer");
  const deployments = await deployContracts(admin, admin.address);
  const relayer = await funded();
  const anchorer = await funded();
  const actors = Object.fromEntries(
    Object.entries(demoActors).map(([name, a]) => [name, devWallet(a.keyIndex)]),
  ) as Actors;
  await applyGrants(admin, deployments, [
    { account: relayer.address, roles: ["RELAYER"] },
    { account: anchorer.address, roles: ["ANCHORER"] },
    ...Object.entries(demoActors).map(([name, a]) => ({
      account: actors[name as DemoActorName].address,
      roles: a.roles,
      profile: a.profile,
    })),
  ]);
  return { deployments, domain: ledgerDomain(BigInt(deployments.chainId), deployments.ledger), actors, relayer, anchorer };
}

export interface Ledger {
  readonly app: FastifyInstance;
  readonly services: LedgerServices;
  readonly chain: Chain;
  readonly dataDir: string;
  sign(actor: DemoActorName, doc: EventDoc, options?: SignOptions): Promise<SignedEvent>;
  /** POST /v1/events; returns the raw response. */
  post(events: SignedEvent | readonly SignedEvent[]): Promise<{ statusCode: number; json: Record<string, unknown>; headers: Record<string, unknown> }>;
  get(url: string): Promise<{ statusCode: number; json: Record<string, unknown>; headers: Record<string, unknown> }>;
  /** Relays what is queued, mines, and indexes: one step of the chain workers. */
  sync(): Promise<void>;
  /** Logs the demo story through the API, each event relayed and indexed before the next (none anchored). */
  playDemoStory(): Promise<void>;
  close(): Promise<void>;
}

export interface StartOptions {
  readonly chain?: Chain;
  /** Reuse a data dir (restart tests); default a fresh temp dir, removed on close. */
  readonly dataDir?: string;
  /** The store driver (default sqlite); with postgres, a fresh database, dropped on close (unless `location`). */
  readonly driver?: DriverName;
  /** Reuse a store location (restart tests on either driver); not removed on close. */
  readonly location?: StoreLocation;
  readonly env?: Record<string, string>;
}

export async function startLedger(options: StartOptions = {}): Promise<Ledger> {
  const chain = options.chain ?? (await deployChain());
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(tmpdir(), "ledger-api-")));
  const ownLocation = options.location === undefined && options.driver === "postgres" ? await storeDriver("postgres").create() : undefined;
  const location = options.location ?? ownLocation;
  const config = loadConfig({
    DATA_DIR: dataDir,
    ...location?.env,
    CONFIRMATIONS: "0",
    ANCHOR_EVERY: "1000",
    ANCHOR_INTERVAL_MS: "60000",
    INGEST_WORKERS: "1",
    // Hardhat's chain runs on this process's event loop and blocks it for seconds on a busy machine (coverage-
    // instrumented contracts): no event-loop delay limit, or the API would shed the tests' own requests.
    MAX_EVENT_LOOP_DELAY_MS: "0",
    ...options.env,
  });
  const services = await openLedgerServices({
    config,
    provider: ethers.provider,
    deployments: chain.deployments,
    relayer: chain.relayer.connect(ethers.provider),
    anchorer: chain.anchorer.connect(ethers.provider),
  });
  const app = await buildApp(services);
  await app.ready();
  return {
    app,
    services,
    chain,
    dataDir,
    sign: (actor, doc, signOptions) => signEvent(chain.actors[actor], chain.domain, doc, signOptions),
    async post(events) {
      const res = await app.inject({ method: "POST", url: "/v1/events", payload: events as object });
      return { statusCode: res.statusCode, json: res.json(), headers: res.headers };
    },
    async get(url) {
      const res = await app.inject({ method: "GET", url });
      return { statusCode: res.statusCode, json: res.json(), headers: res.headers };
    },
    sync: () => services.syncOnce(),
    async playDemoStory() {
      for (const step of demoStory(new Date(), (actor) => chain.actors[actor].address)) {
        const res = await app.inject({ method: "POST", url: "/v1/events", payload: (await signEvent(chain.actors[step.actor], chain.domain, step.doc)) as object });
        if (res.statusCode !== 202) throw new Error(`demo step refused: ${res.body}`);
        await services.syncOnce();
      }
    },
    async close() {
      await app.close();
      await services.close();
      await ownLocation?.remove();
      if (options.dataDir === undefined) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
