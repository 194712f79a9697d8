/**
 * The running ledger: the store, the log appender, the signature workers, ingest, and the three chain workers
 * (indexer, relay, anchorer), wired from one configuration. `buildApp` (app.ts) serves HTTP on top of it.
 *
 * Start order matters and is the reverse of stop order: the store opens first, the indexer catches up with the
 * chain before ingest rebuilds its pending overlay (so role checks see current grants), and the writers reconcile
 * with the chain before they send anything (see anchorer.ts, relay.ts).
 */
import type { Provider, Signer } from "ethers";
import { Anchorer } from "./chain/anchorer.ts";
import { abiOf, type Deployments } from "./chain/contracts.ts";
import { Indexer } from "./chain/indexer.ts";
import { Relay } from "./chain/relay.ts";
import { ledgerDomain } from "./protocol/typed-data.ts";
import type { ChainLogger } from "./chain/transactions.ts";
import type { Config } from "./config.ts";
import { Ingestor } from "./ingest/ingestor.ts";
import { IngestPool, InlinePreparer, type LedgerDomain, type Preparer } from "./ingest/ingest-pool.ts";
import { Appender } from "./log/appender.ts";
import { SqliteStore } from "./store/sqlite.ts";
import type { Store } from "./store/store.ts";

export interface LedgerServicesOptions {
  readonly config: Config;
  readonly provider: Provider;
  readonly deployments: Deployments;
  /** Holds RELAYER_ROLE on the ledger; signs locally (a Wallet), its account used by nothing else. */
  readonly relayer: Signer;
  /** Holds ANCHORER_ROLE on the log anchor; signs locally, its account used by nothing else. */
  readonly anchorer: Signer;
  readonly logger?: ChainLogger;
  /** Poll interval of the indexer and the relay loops (default 1000 / 500 ms); tests step the workers by hand. */
  readonly pollMs?: number;
  /**
   * Where ingest's per-event work runs, instead of the INGEST_WORKERS pool (the benchmark's naive baseline passes an
   * InlinePreparer with ethers' hashing and recovery). Closed with the services.
   */
  readonly preparer?: (domain: LedgerDomain) => Preparer;
}

export interface LedgerServices {
  readonly config: Config;
  readonly deployments: Deployments;
  readonly store: Store;
  readonly appender: Appender;
  /** The ingest workers (or the inline preparer with INGEST_WORKERS=0). */
  readonly preparer: Preparer;
  readonly ingestor: Ingestor;
  readonly indexer: Indexer;
  readonly relay: Relay;
  readonly anchorer: Anchorer;
  readonly provider: Provider;
  /** Starts the background loops of the indexer, relay and anchorer. */
  startWorkers(): Promise<void>;
  /** One pass of every worker, in data-flow order; for tests and the demo loader. */
  syncOnce(): Promise<void>;
  close(): Promise<void>;
}

const SILENT: ChainLogger = { info() {}, warn() {}, error() {} };

export async function openLedgerServices(options: LedgerServicesOptions): Promise<LedgerServices> {
  const { config, provider, deployments } = options;
  const logger = options.logger ?? SILENT;
  const store = await SqliteStore.open(config.dataDir);
  try {
    const appender = new Appender(store, { maxGroupSize: Math.max(1000, config.maxEventsPerRequest) });
    const { chainId, verifyingContract } = ledgerDomain(BigInt(deployments.chainId), deployments.ledger);
    const ledgerEip712: LedgerDomain = { name: "ProvenanceLedger", version: "1", chainId: BigInt(chainId as bigint), verifyingContract: verifyingContract as string };
    const preparer =
      options.preparer?.(ledgerEip712) ??
      (config.ingestWorkers === 0
        ? InlinePreparer.fast(ledgerEip712, config.maxEventsPerRequest)
        : new IngestPool({ domain: ledgerEip712, maxEvents: config.maxEventsPerRequest, workers: config.ingestWorkers }));
    const indexer = new Indexer({
      provider,
      deployments,
      store,
      confirmations: config.confirmations,
      pollIntervalMs: options.pollMs ?? 1000,
      batchBlocks: 2000,
      logger,
    });
    const relay = new Relay({
      store,
      ledgerContract: { address: deployments.ledger, abi: abiOf("ProvenanceLedger") },
      signer: options.relayer,
      // The writers count the transaction's own block; config.confirmations counts the blocks on top of it.
      confirmations: config.confirmations + 1,
      logger,
      fromBlock: deployments.deployBlock,
      pollMs: options.pollMs ?? 500,
      feeBumpAfterMs: config.feeBumpAfterMs,
    });
    const anchorer = new Anchorer({
      store,
      anchorContract: { address: deployments.anchor, abi: abiOf("LogAnchor") },
      signer: options.anchorer,
      every: config.anchorEvery,
      intervalMs: config.anchorIntervalMs,
      confirmations: config.confirmations + 1,
      logger,
      pollMs: Math.min(1000, config.anchorIntervalMs),
      feeBumpAfterMs: config.feeBumpAfterMs,
    });
    const ingestor = new Ingestor({ store, appender, preparer });
    // The index catches up first: the rebuilt overlay holds only what the index does not (Ingestor.init).
    await indexer.syncOnce();
    await ingestor.init();

    let started = false;
    return {
      config,
      deployments,
      store,
      appender,
      preparer,
      ingestor,
      indexer,
      relay,
      anchorer,
      provider,
      async startWorkers() {
        started = true;
        await indexer.start();
        await relay.start();
        await anchorer.start();
      },
      async syncOnce() {
        // Send, then settle what was sent (the relay confirms on its next pass), then index the result.
        await relay.syncOnce();
        await relay.syncOnce();
        await indexer.syncOnce();
      },
      async close() {
        if (started) {
          await anchorer.stop();
          await relay.stop();
          await indexer.stop();
        }
        await appender.close();
        await preparer.close();
        await store.close();
      },
    };
  } catch (err) {
    await store.close();
    throw err;
  }
}
