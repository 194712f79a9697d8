/**
 * The running ledger: the store (with its log writer thread), the log appender, the ingest workers, ingest, and the
 * three chain workers (indexer, relay, anchorer), wired from one configuration. `buildApp` (app.ts) serves HTTP on top
 * of it.
 *
 * Start order matters and is the reverse of stop order: the store opens first, the indexer catches up with the
 * chain before ingest rebuilds its pending overlay (so role checks see current grants), and the writers reconcile
 * with the chain before they send anything (see anchorer.ts, relay.ts).
 *
 * Local mode (`autoRecover`): before the indexer's first pass, and again whenever the indexer halts because the chain
 * no longer holds what it indexed, chain/recovery.ts works out what the chain lost and puts the writers and the index
 * back so they redo it. At run time the workers are stopped meanwhile, and ingest answers 503 CHAIN_UNAVAILABLE
 * until the index is rebuilt rather than judge events against a partial one.
 *
 * Several instances on one PostgreSQL store: every instance serves every route and ingests; the chain workers run
 * only on the holder of the store's leader lease (chain/leadership.ts). An instance that starts as a follower does
 * not index at start: the leader keeps the shared index current.
 */
import { hostname } from "node:os";
import type { Provider, Signer } from "ethers";
import { Anchorer } from "./chain/anchorer.ts";
import { abiOf, type Deployments } from "./chain/contracts.ts";
import type { DurableBlock } from "./chain/finality.ts";
import { Indexer, type IndexerHaltedError } from "./chain/indexer.ts";
import type { LocalChain } from "./chain/local-chain.ts";
import { describeRecovery, recover, type RecoveryContext, type RecoveryPlan } from "./chain/recovery.ts";
import { Leadership } from "./chain/leadership.ts";
import { Relay } from "./chain/relay.ts";
import { ledgerDomain } from "./protocol/typed-data.ts";
import type { ChainLogger } from "./chain/transactions.ts";
import type { Config } from "./config.ts";
import { ApiError } from "./http/errors.ts";
import { Ingestor } from "./ingest/ingestor.ts";
import { IngestPool, InlinePreparer, type LedgerDomain, type Preparer } from "./ingest/ingest-pool.ts";
import { Appender } from "./log/appender.ts";
import { openStore } from "./store/open.ts";
import { threadEntries } from "./thread-bundles.ts";
import type { Store } from "./store/store.ts";

/** Wait before starting the chain workers again when a start after an in-place recovery failed. */
const WORKER_RESTART_DELAY_MS = 2000;

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
  /** Local chain: the newest block its last durable snapshot holds (chain/finality.ts). Unset for a remote chain. */
  readonly durableBlock?: DurableBlock;
  /**
   * Local mode: recover from a rolled-back chain at start and whenever the indexer halts because the chain lost
   * blocks (chain/recovery.ts). `redeploy` puts the contracts back at their addresses when the chain lost them;
   * `clearPool` empties the node's mempool of what the writers sent against the lost chain.
   */
  readonly autoRecover?: { readonly redeploy?: () => Promise<Deployments>; readonly clearPool?: () => Promise<void> };
  /** Local mode: the chain process, whose state /healthz and /metrics report. */
  readonly localChain?: Pick<LocalChain, "status">;
}

/** What the automatic recovery did last (local mode). */
export interface RecoveryStatus {
  readonly running: boolean;
  readonly runs: number;
  readonly lastAt: number | undefined;
  /** The last plan that found something to redo, in words. */
  readonly lastReport: readonly string[] | undefined;
  readonly lastError: string | undefined;
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
  /** Local mode: the chain process (snapshots, restarts). */
  readonly localChain: Pick<LocalChain, "status"> | undefined;
  /** Whether this instance runs the chain workers (always, with SQLite). */
  readonly leadership: Leadership;
  /**
   * Starts the leadership loop: the background loops of the indexer, relay and anchorer run while this instance holds
   * the leader lease (at once with SQLite, or as the only instance).
   */
  startWorkers(): Promise<void>;
  /** One pass of every worker, in data-flow order; for tests and the demo loader. */
  syncOnce(): Promise<void>;
  /** Local mode's automatic recovery; undefined without `autoRecover`. */
  recoveryStatus(): RecoveryStatus | undefined;
  close(): Promise<void>;
}

const SILENT: ChainLogger = { info() {}, warn() {}, error() {} };

export async function openLedgerServices(options: LedgerServicesOptions): Promise<LedgerServices> {
  const { config, provider, deployments } = options;
  const logger = options.logger ?? SILENT;
  // The worker threads run from bundles (thread-bundles.ts: a third of the memory of a thread on the sources).
  const threads = await threadEntries();
  // On SQLite the log's group commits (sequencing, hashing, inserts, fsync) run on the store's writer thread, off the
  // event loop; this process is the database's one writer. (PostgreSQL's commits wait on the server, not this thread.)
  const store = await openStore(config, { logWriter: "thread", logWriterEntry: threads?.logWriter, soleWriter: true });
  let onHalt: (err: IndexerHaltedError) => void = () => undefined;
  try {
    const appender = new Appender(store, { maxGroupSize: Math.max(1000, config.maxEventsPerRequest) });
    const { chainId, verifyingContract } = ledgerDomain(BigInt(deployments.chainId), deployments.ledger);
    const ledgerEip712: LedgerDomain = { name: "ProvenanceLedger", version: "1", chainId: BigInt(chainId as bigint), verifyingContract: verifyingContract as string };
    const preparer =
      options.preparer?.(ledgerEip712) ??
      (config.ingestWorkers === 0
        ? InlinePreparer.fast(ledgerEip712, config.maxEventsPerRequest)
        : new IngestPool({
            domain: ledgerEip712,
            maxEvents: config.maxEventsPerRequest,
            workers: config.ingestWorkers,
            workerUrl: threads?.ingestWorker,
          }));
    const indexer = new Indexer({
      provider,
      deployments,
      store,
      confirmations: config.confirmations,
      pollIntervalMs: options.pollMs ?? 1000,
      batchBlocks: 2000,
      logger,
      durableBlock: options.durableBlock,
      onHalt: (err) => onHalt(err),
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
      durableBlock: options.durableBlock,
      groupSize: config.relayGroupSize,
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
      durableBlock: options.durableBlock,
    });
    // While a recovery rebuilds the index in place, ingest would judge against a partial index (a signer's role not
    // indexed yet reads as missing): it answers 503 CHAIN_UNAVAILABLE instead, and the client retries.
    let rebuilding = false;
    const ingestor = new (class extends Ingestor {
      override submit(events: Parameters<Ingestor["submit"]>[0]): ReturnType<Ingestor["submit"]> {
        if (rebuilding) {
          return Promise.reject(
            new ApiError("CHAIN_UNAVAILABLE", "the ledger is redoing what its chain lost and rebuilding its index; retry in a few seconds"),
          );
        }
        return super.submit(events);
      }
    })({ store, appender, preparer, observationsPerLotPerDay: config.observationsPerLotPerDay });
    const recoveryContext: RecoveryContext = {
      store,
      provider,
      deployments,
      relayer: await options.relayer.getAddress(),
      anchorer: await options.anchorer.getAddress(),
      redeploy: options.autoRecover?.redeploy,
      logger,
    };
    let recovery: { running: boolean; runs: number; lastAt?: number; lastReport?: string[]; lastError?: string } | undefined;
    const recoverOnce = async (): Promise<RecoveryPlan> => {
      const plan = await recover(recoveryContext, { apply: true });
      recovery!.runs++;
      recovery!.lastAt = Date.now();
      if (!plan.clean) {
        recovery!.lastReport = describeRecovery(plan);
        logger.warn({ report: recovery!.lastReport }, "recovery: the chain had lost blocks; redoing what they held");
      }
      return plan;
    };
    const lease = store.leaderLease({
      holder: `${hostname()}:${process.pid}:${config.port}`,
      ttlMs: config.leaderLeaseMs,
    });
    // Recovery and the first index pass write what only the chain workers write: the leader's to do.
    const leading = (await lease.acquire()) !== undefined;
    if (options.autoRecover !== undefined) {
      recovery = { running: true, runs: 0 };
      if (leading) await recoverOnce();
      recovery.running = false;
    }

    // The leader's index catches up first: the rebuilt overlay holds only what the index does not (Ingestor.init).
    // A follower leaves the index to the leader, which keeps it current.
    if (leading) await indexer.syncOnce();
    await ingestor.init();
    const leadership = new Leadership({
      lease,
      renewMs: Math.max(100, Math.floor(config.leaderLeaseMs / 3)),
      logger,
      async elected() {
        indexer.start();
        await relay.start();
        await anchorer.start();
      },
      async deposed() {
        await anchorer.stop();
        await relay.stop();
        await indexer.stop();
      },
    });

    let started = false;
    let closing = false;
    let restartTimer: NodeJS.Timeout | undefined;
    // At run time: stop the workers, recover, rebuild the index and the overlay, start the workers again.
    const recoverNow = async (): Promise<void> => {
      if (recovery === undefined || recovery.running || closing) return;
      recovery.running = true;
      rebuilding = true;
      try {
        await anchorer.stop();
        await relay.stop();
        await indexer.stop();
        // Sent while the chain was behind: nonces past the chain's, whose events recovery sends again.
        await options.autoRecover?.clearPool?.();
        await recoverOnce();
        indexer.resume();
        await indexer.syncOnce();
        await ingestor.init();
        recovery.lastError = undefined;
      } catch (err) {
        recovery.lastError = (err as Error).message;
        logger.error({ err: recovery.lastError }, "recovery failed; the indexer stays halted");
      } finally {
        recovery.running = false;
        rebuilding = false;
      }
      if (recovery.lastError === undefined) await restartWorkers();
    };
    // Only the leader's workers run (the halt was its indexer's); one deposed meanwhile leaves them stopped. Starting
    // them reads the chain (the relay settles what it had sent), which a chain just restarted under load may refuse
    // for a while: they are stopped again and started later, never left half-running, and the process lives on
    // (an unhandled rejection here used to end it).
    const restartWorkers = async (): Promise<void> => {
      restartTimer = undefined;
      if (!started || closing || !leadership.leading) return;
      try {
        await indexer.start();
        await relay.start();
        await anchorer.start();
        if (recovery !== undefined) recovery.lastError = undefined;
      } catch (err) {
        const message = `restarting the chain workers after a recovery: ${(err as Error).message}`;
        if (recovery !== undefined) recovery.lastError = message;
        logger.error({ err: message }, "the chain workers did not start; trying again in a few seconds");
        await anchorer.stop().catch(() => undefined);
        await relay.stop().catch(() => undefined);
        await indexer.stop().catch(() => undefined);
        if (!closing) restartTimer = setTimeout(() => void restartWorkers(), WORKER_RESTART_DELAY_MS);
      }
    };
    const RECOVERABLE = new Set(["CHAIN_BEHIND_CURSOR", "REORG_BELOW_CURSOR", "RANGE_NOT_CANONICAL", "NO_CONTRACT_CODE"]);
    onHalt = (err) => {
      // Deferred: the halt is raised inside the indexer's own pass, which recoverNow waits for.
      if (RECOVERABLE.has(err.code)) {
        setImmediate(() => {
          recoverNow().catch((e: unknown) => logger.error({ err: (e as Error).message }, "recovery in place failed"));
        });
      }
    };
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
      localChain: options.localChain,
      leadership,
      async startWorkers() {
        started = true;
        await leadership.start();
      },
      async syncOnce() {
        // Send, then settle what was sent (the relay confirms on its next pass), then index the result.
        await relay.syncOnce();
        await relay.syncOnce();
        await indexer.syncOnce();
      },
      recoveryStatus() {
        return recovery === undefined
          ? undefined
          : { running: recovery.running, runs: recovery.runs, lastAt: recovery.lastAt, lastReport: recovery.lastReport, lastError: recovery.lastError };
      },
      async close() {
        closing = true;
        clearTimeout(restartTimer);
        // Gives the lease back (after stopping the workers, if leading), so another instance takes over at once.
        if (started) await leadership.stop();
        else await lease.release();
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
