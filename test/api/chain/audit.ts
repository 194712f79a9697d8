/**
 * An independent audit of a stopped ledger's data directory against its chain, as an operator would run it after a
 * crash: the chain is loaded from the directory's snapshot alone (so only what was durable counts), or a remote
 * chain is read, and
 *
 * - every lifecycle entry of the log is settled: its event is on chain exactly once, in the transaction and block its
 *   relay row names (and that receipt succeeded), or it is refused with a reason and not on chain at all; every
 *   Observed entry has no relay row; the chain holds no lifecycle event the log lacks;
 * - every anchor on chain is a root of this log, sizes strictly increasing, and the latest covers the whole log;
 * - the index equals a fresh re-index of the same chain (every index table, row for row).
 *
 * Returns the failures as sentences rather than throwing at the first, so a failed test shows them all.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { Contract, JsonRpcProvider } from "ethers";
import { EventDecoder } from "../../../ledger-api/src/chain/chain-events.ts";
import { abiOf, readDeployments, type Deployments } from "../../../ledger-api/src/chain/contracts.ts";
import { Indexer } from "../../../ledger-api/src/chain/indexer.ts";
import { startLocalChain } from "../../../ledger-api/src/chain/local-chain.ts";
import { Kind } from "../../../ledger-api/src/protocol/typed-data.ts";
import { bytesToHex } from "../../../ledger-api/src/log/hash.ts";
import { root as rootOfSize } from "../../../ledger-api/src/log/merkle.ts";
import { SqliteStore } from "../../../ledger-api/src/store/sqlite.ts";
import { freePort } from "./processes.ts";

export interface AuditReport {
  readonly failures: string[];
  readonly entries: number;
  readonly confirmed: number;
  readonly refused: readonly { readonly index: number; readonly errorName: string }[];
  readonly anchors: number;
}

/** The index tables and the columns that identify a row (lineage's seq and the cursor's timestamp are local). */
const INDEX_TABLES: Readonly<Record<string, string>> = {
  chain_cursor: "SELECT contracts, block_number, block_hash FROM chain_cursor ORDER BY contracts",
  roles: "SELECT * FROM roles ORDER BY contract, role, account",
  profiles: "SELECT * FROM profiles ORDER BY account",
  batches: "SELECT * FROM batches ORDER BY batch_id",
  lineage: "SELECT child, parent, event_hash, quantity, block_number FROM lineage ORDER BY child, parent",
  lifecycle_events: "SELECT * FROM lifecycle_events ORDER BY event_hash",
  spent_nonces: "SELECT * FROM spent_nonces ORDER BY actor, nonce",
  anchors: "SELECT * FROM anchors ORDER BY anchor_index",
};

function dumpIndex(dbFile: string): Record<string, string> {
  const db = new DatabaseSync(dbFile, { readOnly: true });
  try {
    return Object.fromEntries(Object.entries(INDEX_TABLES).map(([t, sql]) => [t, JSON.stringify(db.prepare(sql).all())]));
  } finally {
    db.close();
  }
}

async function indexToHead(store: SqliteStore, provider: JsonRpcProvider, deployments: Deployments, confirmations: number): Promise<void> {
  const indexer = new Indexer({ provider, deployments, store, confirmations, pollIntervalMs: 1000, batchBlocks: 2000 });
  await indexer.syncOnce();
}

export interface AuditOptions {
  readonly confirmations: number;
  /** A remote chain to audit against; by default the chain is loaded from the directory's snapshot. */
  readonly rpcUrl?: string;
}

export async function auditLedger(dataDir: string, options: AuditOptions): Promise<AuditReport> {
  const failures: string[] = [];
  const deployments = readDeployments(path.join(dataDir, "deployments.json"));
  if (deployments === undefined) throw new Error(`no deployments in ${dataDir}`);
  const chain =
    options.rpcUrl === undefined
      ? await startLocalChain({ stateDir: path.join(dataDir, "chain"), port: await freePort(), disableCodeSizeLimit: true, confirmations: 0 })
      : undefined;
  const provider = new JsonRpcProvider(chain?.rpcUrl ?? options.rpcUrl, undefined, { cacheTimeout: -1, staticNetwork: true });
  const freshDir = await mkdtemp(path.join(tmpdir(), "ledger-reindex-"));
  let store: SqliteStore | undefined;
  let fresh: SqliteStore | undefined;
  let confirmed = 0;
  const refused: { index: number; errorName: string }[] = [];
  let anchorCount = 0;
  let size = 0;
  try {
    store = await SqliteStore.open(dataDir);
    const head = await provider.getBlockNumber();

    // --- the chain's lifecycle events, by event hash.
    const decoder = new EventDecoder(deployments.ledger, deployments.anchor);
    const onChain = new Map<string, { txHash: string; blockNumber: number }[]>();
    for (const log of await provider.getLogs({ address: deployments.ledger, fromBlock: deployments.deployBlock, toBlock: head })) {
      const e = decoder.decode(log);
      if (e?.type !== "Lifecycle") continue;
      onChain.set(e.eventHash, [...(onChain.get(e.eventHash) ?? []), { txHash: e.txHash, blockNumber: e.blockNumber }]);
    }

    // --- every log entry against its relay row and the chain.
    size = await store.size();
    if ((await store.relayCursor()) !== size) failures.push(`the relay has looked at ${await store.relayCursor()} of ${size} entries`);
    const keys = new Set<string>();
    for (let i = 0; i < size; i++) {
      const entry = (await store.entry(i))!;
      const key = entry.key.toLowerCase();
      keys.add(key);
      const row = await store.relayRecord(i);
      const copies = onChain.get(key) ?? [];
      if (entry.kind === Kind.Observed) {
        if (row !== undefined) failures.push(`Observed entry ${i} has a relay row`);
        continue;
      }
      if (row === undefined) {
        failures.push(`lifecycle entry ${i} has no relay row`);
        continue;
      }
      if (row.status === "confirmed") {
        confirmed++;
        if (copies.length !== 1) {
          failures.push(`entry ${i} is confirmed but its event is on chain ${copies.length} times`);
          continue;
        }
        const at = copies[0]!;
        if (at.txHash !== row.txHash || at.blockNumber !== row.blockNumber) {
          failures.push(`entry ${i}: the row says tx ${row.txHash} in block ${row.blockNumber}, the chain has ${at.txHash} in block ${at.blockNumber}`);
        }
        const receipt = await provider.getTransactionReceipt(at.txHash);
        if (receipt?.status !== 1) failures.push(`entry ${i}: receipt of ${at.txHash} is ${receipt === null ? "missing" : `status ${receipt.status}`}`);
      } else if (row.status === "refused") {
        refused.push({ index: i, errorName: row.errorName ?? "" });
        if (!row.errorName || !row.error) failures.push(`entry ${i} is refused without a reason`);
        if (copies.length !== 0) failures.push(`entry ${i} is refused (${row.errorName}) but its event is on chain`);
      } else {
        failures.push(`entry ${i} is still ${row.status}`);
      }
    }
    for (const key of onChain.keys()) if (!keys.has(key)) failures.push(`the chain holds event ${key}, which the log lacks`);

    // --- anchors: consistent with the log, increasing, the latest covering it all.
    const anchor = new Contract(deployments.anchor, abiOf("LogAnchor"), provider);
    anchorCount = Number(await anchor.getFunction("anchorCount")());
    let previous = 0;
    for (let i = 0; i < anchorCount; i++) {
      const a = (await anchor.getFunction("anchorAt")(i)) as { root: string; size: bigint };
      const sizeAt = Number(a.size);
      if (sizeAt <= previous) failures.push(`anchor ${i} has size ${sizeAt} after ${previous}`);
      previous = sizeAt;
      if (sizeAt > size) {
        failures.push(`anchor ${i} covers ${sizeAt} entries, the log has ${size}`);
        continue;
      }
      const ours = bytesToHex(await rootOfSize(sizeAt, store)).toLowerCase();
      if (ours !== a.root.toLowerCase()) failures.push(`anchor ${i} (size ${sizeAt}) has root ${a.root}, the log's is ${ours}`);
    }
    if (previous !== size) failures.push(`the latest anchor covers ${previous} of ${size} entries`);

    // --- the index equals a fresh re-index of the same chain.
    await indexToHead(store, provider, deployments, options.confirmations);
    fresh = await SqliteStore.open(freshDir);
    await indexToHead(fresh, provider, deployments, options.confirmations);
  } finally {
    await store?.close();
    await fresh?.close();
    provider.destroy();
    await chain?.stop();
  }
  const ours = dumpIndex(path.join(dataDir, "ledger.db"));
  const theirs = dumpIndex(path.join(freshDir, "ledger.db"));
  await rm(freshDir, { recursive: true, force: true });
  for (const table of Object.keys(INDEX_TABLES)) {
    if (ours[table] !== theirs[table]) failures.push(`index table ${table} differs from a fresh re-index`);
  }
  return { failures, entries: size, confirmed, refused, anchors: anchorCount };
}
