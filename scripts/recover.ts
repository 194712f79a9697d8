/**
 * Recovery for a remote chain (RPC_URL) that lost blocks the ledger had counted final (a reorg deeper than
 * CONFIRMATIONS, a network restored from a backup): reports what the chain no longer holds and what would be redone
 * (ledger-api/src/chain/recovery.ts), and with --apply resets the relay rows, anchor intents and index so the API
 * redoes it when it starts. Local mode (no RPC_URL) needs no command: `npm start` recovers by itself.
 *
 * Stop the API first (every instance, with PostgreSQL): the relay, anchorer and indexer must not run while their rows
 * are rewritten. The command holds the store's leader lease while it applies, so a leader still running is refused.
 *
 *   RPC_URL=https://rpc.example.org RELAYER_KEY=0x.. ANCHORER_KEY=0x.. DATA_DIR=data npm run recover [-- --apply]
 *
 * Exit codes: 0 nothing to redo, or redone with --apply; 2 a dry run found something to redo; 1 an error (e.g. the
 * contracts are gone: redeploy them at the same addresses first).
 */
import { JsonRpcProvider, Wallet } from "ethers";
import { readDeployments } from "../ledger-api/src/chain/contracts.ts";
import { applyRecovery, describeRecovery, planRecovery } from "../ledger-api/src/chain/recovery.ts";
import { ConfigError, loadConfig } from "../ledger-api/src/config.ts";
import { openStore } from "../ledger-api/src/store/open.ts";

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => a !== "--apply");
  if (unknown.length > 0) throw new ConfigError(`unknown argument ${unknown[0]}; usage: npm run recover [-- --apply]`);
  const apply = args.includes("--apply");
  const config = loadConfig();
  if (config.rpcUrl === undefined) {
    throw new ConfigError("RPC_URL is not set: in local mode `npm start` recovers by itself; this command is for a remote chain");
  }
  if (config.relayerKey === undefined || config.anchorerKey === undefined) {
    throw new ConfigError("RELAYER_KEY and ANCHORER_KEY are required (their accounts' nonces on chain are checked)");
  }
  const deployments = readDeployments(config.deploymentsFile);
  if (deployments === undefined) throw new ConfigError(`no deployments file at ${config.deploymentsFile}`);
  const provider = new JsonRpcProvider(config.rpcUrl, undefined, { cacheTimeout: -1 });
  const store = await openStore(config);
  try {
    const ctx = {
      store,
      provider,
      deployments,
      relayer: new Wallet(config.relayerKey).address,
      anchorer: new Wallet(config.anchorerKey).address,
    };
    const plan = await planRecovery(ctx);
    for (const line of describeRecovery(plan)) console.log(line);
    if (plan.clean) return 0;
    if (!apply) {
      console.log("dry run: nothing was changed; run again with --apply (the API stopped) to redo it");
      return 2;
    }
    // The chain workers' lease: an instance still leading makes this refuse; one that wakes up later is fenced out.
    const lease = store.leaderLease({ holder: "npm run recover", ttlMs: 10 * 60_000 });
    if ((await lease.acquire()) === undefined) {
      throw new ConfigError("an API instance still runs the chain workers (it holds the leader lease): stop every instance first");
    }
    try {
      await applyRecovery(ctx, plan);
    } finally {
      await lease.release();
    }
    console.log("applied: start the API; the relay re-sends, the anchorer re-anchors and the indexer rebuilds");
    return 0;
  } finally {
    await store.close();
    provider.destroy();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof ConfigError ? `configuration error: ${err.message}` : err instanceof Error ? `recover: ${err.message}` : err);
    process.exit(1);
  },
);
