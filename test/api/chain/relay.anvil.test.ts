/**
 * The relay's groups on a node that answers eth_createAccessList (anvil, as `npm start` runs it), which Hardhat's
 * in-process chain does not: there a group's gas limit comes from one execution, checked by the simulation at that
 * limit, and eth_estimateGas's search is never run for a group. relay.test.ts covers the rest on Hardhat.
 */
import { expect } from "chai";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { JsonRpcProvider, Transaction, Wallet } from "ethers";
import type { HDNodeWallet } from "ethers";
import type { Deployments } from "../../../ledger-api/src/chain/contracts.ts";
import { startLocalChain, type LocalChain } from "../../../ledger-api/src/chain/local-chain.ts";
import { Relay } from "../../../ledger-api/src/chain/relay.ts";
import { LOCAL_KEYS, demoWallet, ensureDemoDeployment } from "../../../ledger-api/src/demo/load.ts";
import { demoActors } from "../../../ledger-api/src/demo/story.ts";
import { Appender } from "../../../ledger-api/src/log/appender.ts";
import { encodeEntryBody } from "../../../ledger-api/src/protocol/entry-body.ts";
import { Kind, batchIdOf, eventHash, ledgerDomain, typedDataFor } from "../../../ledger-api/src/protocol/typed-data.ts";
import type { ValuesOf } from "../../../ledger-api/src/protocol/typed-data.ts";
import { SqliteStore } from "../../../ledger-api/src/store/sqlite.ts";
import { values } from "../../contracts/fixtures.ts";
import { LEDGER_ABI } from "./fixtures.ts";
import { freePort, removeDir } from "./processes.ts";

type OnChainKind = Exclude<Kind, typeof Kind.Observed>;

/** ethers' JSON-RPC provider, noting the method of every request it sends. */
class RecordingProvider extends JsonRpcProvider {
  readonly methods: string[] = [];
  override send(method: string, params: unknown[] | Record<string, unknown>): Promise<unknown> {
    this.methods.push(method);
    return super.send(method, params);
  }
}

describe("Relay groups on anvil (eth_createAccessList)", function () {
  this.timeout(120_000);
  let dir: string;
  let chain: LocalChain;
  let provider: RecordingProvider;
  let deployments: Deployments;
  let store: SqliteStore;
  let appender: Appender;
  const cooperative = demoWallet(demoActors.cooperative.keyIndex);
  const wholesaler = demoWallet(demoActors.wholesaler.keyIndex);

  before(async function () {
    dir = await mkdtemp(path.join(tmpdir(), "ledger-relay-anvil-"));
    chain = await startLocalChain({ stateDir: path.join(dir, "chain"), port: await freePort(), disableCodeSizeLimit: true, confirmations: 1, mineEveryMs: 20 });
    provider = new RecordingProvider(chain.rpcUrl, undefined, { cacheTimeout: -1, pollingInterval: 50 });
    deployments = await ensureDemoDeployment(provider, path.join(dir, "deployments.json"));
    store = await SqliteStore.open(dir);
    appender = new Appender(store);
  });

  after(async function () {
    await appender?.close();
    await store?.close();
    provider?.destroy();
    await chain?.stop();
    await removeDir(dir);
  });

  /** Signs `v` as `by` and appends it to the log the way the API does; returns its log index. */
  async function log<K extends OnChainKind>(kind: K, v: ValuesOf[K], by: HDNodeWallet): Promise<number> {
    const domain = ledgerDomain(BigInt(deployments.chainId), deployments.ledger);
    const td = typedDataFor(kind, v, domain);
    const signature = await by.signTypedData(td.domain, td.types, td.value as unknown as Record<string, unknown>);
    const digest = eventHash(domain, kind, v);
    const batchId = kind === Kind.Registered ? batchIdOf((v as { gtin: string }).gtin, (v as { lot: string }).lot) : (v as { batchId: string }).batchId;
    const body = encodeEntryBody(kind, { doc: { kind, note: "test document" }, values: v, signer: by.address, signature });
    const receipt = await appender.add({ key: digest, batchId, kind, eventDigest: digest, docHash: v.docHash, signer: by.address, signature, body });
    return receipt.index;
  }

  function relay(): Relay {
    return new Relay({
      store,
      ledgerContract: { address: deployments.ledger, abi: LEDGER_ABI },
      signer: new Wallet(demoWallet(LOCAL_KEYS.relayer).privateKey, provider),
      confirmations: 2,
      fromBlock: deployments.deployBlock,
      groupSize: 50,
      durableBlock: () => chain.durableBlock(),
    });
  }

  /** Passes until every row is settled; the methods the relay sent meanwhile. */
  async function drain(r: Relay): Promise<string[]> {
    const before = provider.methods.length;
    for (let pass = 0; ; pass++) {
      if (pass === 200) throw new Error("the relay did not settle");
      await r.syncOnce();
      if ((await store.relayRows("pending", 1)).length + (await store.relayRows("sent", 1)).length === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return provider.methods.slice(before);
  }

  async function registrations(n: number, by = cooperative): Promise<number[]> {
    const indices = [];
    for (let i = 0; i < n; i++) indices.push(await log(Kind.Registered, values.registered(), by));
    return indices;
  }

  /** The settled rows of `indices`, all confirmed in one group; and that group with its receipt and gas limit. */
  async function oneGroup(indices: readonly number[]) {
    const rows = await Promise.all(indices.map(async (i) => (await store.relayRecord(i))!));
    expect(rows.map((r) => r.status)).to.deep.equal(rows.map(() => "confirmed"));
    expect(new Set(rows.map((r) => r.group)).size).to.equal(1);
    const group = (await store.relayGroup(rows[0]!.group!))!;
    const receipt = (await provider.getTransactionReceipt(group.txHash))!;
    return { group, receipt, limit: Transaction.from(group.rawTx).gasLimit };
  }

  it("takes a group's gas limit from one execution checked by the simulation at that limit, never from eth_estimateGas", async function () {
    const indices = await registrations(4);
    const sent = await drain(relay());
    expect(sent).to.include("eth_createAccessList");
    expect(sent, "no eth_estimateGas for a group").to.not.include("eth_estimateGas");
    const { group, receipt, limit } = await oneGroup(indices);
    expect(group.calls).to.equal(4);
    // The group's own execution with 30 % headroom and 20,000 gas. eth_createAccessList counts it with its access list
    // (slots paid up front), a little under the plain transaction's gas: within 1 %.
    const headroom = (receipt.gasUsed * 13n) / 10n + 20_000n;
    expect(limit <= (headroom * 101n) / 100n && limit >= (headroom * 99n) / 100n, `${limit} against ${headroom}`).to.equal(true);
  });

  it("leaves out a call the simulation refuses; the limit of the group with it covers the group without it", async function () {
    const indices = await registrations(3);
    // The wholesaler holds no PRODUCER_ROLE: refused by the simulation, recorded with the contract's error.
    const [refused] = await registrations(1, wholesaler);
    const sent = await drain(relay());
    expect(sent).to.not.include("eth_estimateGas");
    expect(await store.relayRecord(refused!)).to.include({ status: "refused", errorName: "AccessControlUnauthorizedAccount", group: undefined });
    const { group, receipt, limit } = await oneGroup(indices);
    expect(group.calls).to.equal(3);
    expect(receipt.status).to.equal(1);
    // The 3-call group's own execution with headroom, plus what the left-out call cost before it reverted.
    expect(limit > (receipt.gasUsed * 13n * 101n) / 1000n + 20_000n, "the refused call's gas is in the limit").to.equal(true);
  });
});
