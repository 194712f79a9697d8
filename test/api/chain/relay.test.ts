import { expect } from "chai";
import { Contract, Transaction, Wallet } from "ethers";
import type { HDNodeWallet } from "ethers";
import { Relay } from "../../../ledger-api/src/chain/relay.ts";
import type { RelayOptions } from "../../../ledger-api/src/chain/relay.ts";
import { encodeEntryBody } from "../../../ledger-api/src/protocol/entry-body.ts";
import { Kind, batchIdOf, eventHash, ledgerDomain, typedDataFor } from "../../../ledger-api/src/protocol/typed-data.ts";
import type { ValuesOf } from "../../../ledger-api/src/protocol/typed-data.ts";
import { Appender } from "../../../ledger-api/src/log/appender.ts";
import type { Store } from "../../../ledger-api/src/store/store.ts";
import { forEachDriver } from "../store/drivers.ts";
import { KR, children, values } from "../../contracts/fixtures.ts";
import {
  automine,
  deploy,
  dropTransaction,
  ethers,
  fundedWallet,
  LEDGER_ABI,
  manualClock,
  memoryLogger,
  mine,
  networkHelpers,
  stores,
} from "./fixtures.ts";

type OnChainKind = Exclude<Kind, typeof Kind.Observed>;

async function relayFixture() {
  const deployments = await deploy();
  const admin = (await ethers.getSigners())[0]!;
  const ledger = new Contract(deployments.ledger, LEDGER_ABI, admin);
  const actor = () => Wallet.createRandom().connect(ethers.provider);
  const actors = {
    producer: actor(),
    importer: actor(),
    inspector: actor(),
    wholesaler: actor(),
    stall: actor(),
    regulator: actor(),
  };
  const relayer = await fundedWallet();
  const grants: [string, string][] = [
    ["PRODUCER_ROLE", actors.producer.address],
    ["IMPORTER_ROLE", actors.importer.address],
    ["INSPECTOR_ROLE", actors.inspector.address],
    ["HANDLER_ROLE", actors.wholesaler.address],
    ["HANDLER_ROLE", actors.stall.address],
    ["REGULATOR_ROLE", actors.regulator.address],
    ["RELAYER_ROLE", relayer.address],
  ];
  for (const [role, who] of grants) await ledger.getFunction("grantRole")(ethers.id(role), who);
  await ledger.getFunction("setProfile")(actors.stall.address, { name: "Dongmun stall 12", gln: 0n, country: KR, retail: true });
  const domain = ledgerDomain(BigInt(deployments.chainId), deployments.ledger);
  return { deployments, ledger: ledger.connect(ethers.provider) as Contract, admin, relayer, domain, ...actors };
}

forEachDriver("Relay", (driver) => {
  const s = stores(driver);
  let store: Store;
  let appender: Appender;
  let f: Awaited<ReturnType<typeof relayFixture>>;

  beforeEach(async function () {
    f = await networkHelpers.loadFixture(relayFixture);
    store = await s.open();
    appender = new Appender(store);
  });
  afterEach(async function () {
    await automine(true);
    await appender.close();
    await s.close();
  });

  function relay(over: Partial<RelayOptions> = {}): Relay {
    return new Relay({
      store,
      ledgerContract: { address: f.deployments.ledger, abi: LEDGER_ABI },
      signer: f.relayer,
      confirmations: 1,
      pollMs: 10,
      fromBlock: f.deployments.deployBlock,
      ...over,
    });
  }

  /** Signs `v` as `by` and appends it to the log the way the API does; returns its log index. */
  async function log<K extends OnChainKind>(
    kind: K,
    v: ValuesOf[K],
    by: HDNodeWallet,
    tamper?: (v: ValuesOf[K]) => ValuesOf[K],
  ): Promise<number> {
    const td = typedDataFor(kind, v, f.domain);
    const signature = await by.signTypedData(td.domain, td.types, td.value as unknown as Record<string, unknown>);
    const digest = eventHash(f.domain, kind, v);
    const batchId =
      kind === Kind.Registered || kind === Kind.Merged
        ? batchIdOf((v as { gtin: string }).gtin, (v as { lot: string }).lot)
        : (v as { batchId: string }).batchId;
    const body = encodeEntryBody(kind, {
      doc: { kind, note: "test document" },
      values: tamper ? tamper(v) : v,
      signer: by.address,
      signature,
    });
    const receipt = await appender.add({
      key: digest,
      batchId,
      kind,
      eventDigest: digest,
      docHash: v.docHash,
      signer: by.address,
      signature,
      body,
    });
    return receipt.index;
  }

  /** An Observed entry: logged, never relayed. */
  async function observe(batchId: string): Promise<number> {
    const key = ethers.id(`observed-${batchId}-${Math.random()}`);
    const receipt = await appender.add({
      key,
      batchId,
      kind: Kind.Observed,
      eventDigest: key,
      docHash: key,
      signer: f.stall.address,
      signature: "0x" + "ab".repeat(65),
      body: JSON.stringify({ doc: { temperatureC: 4 } }),
    });
    return receipt.index;
  }

  /** `n` Observed entries about `batchId`, appended in one group commit. */
  async function observeMany(batchId: string, n: number): Promise<void> {
    await appender.addAll(
      Array.from({ length: n }, (_, i) => {
        const key = ethers.id(`observed-${batchId}-${i}-${Math.random()}`);
        return {
          key,
          batchId,
          kind: Kind.Observed,
          eventDigest: key,
          docHash: key,
          signer: f.stall.address,
          signature: "0x" + "ab".repeat(65),
          body: JSON.stringify({ doc: { temperatureC: 4 } }),
        };
      }),
    );
  }

  /** Passes until every logged lifecycle entry is settled. */
  async function drain(r: Relay): Promise<void> {
    for (let i = 0; i < 200; i++) {
      await r.syncOnce();
      const busy = (await store.relayRows("pending")).length + (await store.relayRows("sent")).length;
      if (busy === 0 && (await store.relayCursor()) === (await store.size())) return;
    }
    throw new Error("relay did not drain");
  }

  /** Logs a fresh registration by `by` and has `r` send it unmined: its row is 'sent', its transaction in the mempool. */
  async function sendUnmined(r: Relay, by: HDNodeWallet = f.producer) {
    const reg = values.registered();
    const idx = await log(Kind.Registered, reg, by);
    await automine(false);
    await r.syncOnce();
    return { reg, A: batchIdOf(reg.gtin, reg.lot), idx, sent: (await store.relayRecord(idx))! };
  }

  async function eventsOf(name: string, batchId: string): Promise<number> {
    const filter = f.ledger.filters[name]!(batchId);
    return (await f.ledger.queryFilter(filter, f.deployments.deployBlock)).length;
  }

  it("relays a whole signed story in log order; every lifecycle entry ends confirmed, Observed ones are skipped", async function () {
    const reg = values.registered();
    const A = batchIdOf(reg.gtin, reg.lot);
    const kids = children(50n, 30n, 20n);
    const [c1, c2, c3] = kids.map((c) => batchIdOf(c.gtin, c.lot)) as [string, string, string];
    const merged = values.merged([c2, c3]);
    const M = batchIdOf(merged.gtin, merged.lot);
    const imp = values.registered({ imported: true });
    const B = batchIdOf(imp.gtin, imp.lot);
    const indices = [
      await log(Kind.Registered, reg, f.producer),
      await log(Kind.PesticideApplied, values.pesticide(A), f.producer),
      await log(Kind.Inspected, values.inspected(A), f.inspector),
      await observe(A),
      await log(Kind.HandOffOffered, values.offered(A, f.wholesaler.address), f.producer),
      await log(Kind.HandOffAccepted, values.accepted(A, f.producer.address), f.wholesaler),
      await log(Kind.Split, values.split(A, kids), f.wholesaler),
      await log(Kind.Merged, merged, f.wholesaler),
      await log(Kind.HandOffOffered, values.offered(c1, f.stall.address), f.wholesaler),
      await log(Kind.HandOffCancelled, values.cancelled(c1, f.stall.address), f.wholesaler),
      await log(Kind.HandOffOffered, values.offered(c1, f.stall.address), f.wholesaler),
      await log(Kind.HandOffAccepted, values.accepted(c1, f.wholesaler.address), f.stall),
      await log(Kind.Registered, imp, f.importer),
      await log(Kind.CustomsCleared, values.customs(B), f.importer),
      await log(Kind.Recalled, values.recalled(M), f.regulator),
    ];
    const r = relay();
    await r.start();
    await r.stop();
    await drain(r);
    const statuses = await Promise.all(indices.map(async (i) => (await r.status(i))?.status));
    expect(statuses).to.deep.equal([
      "confirmed", "confirmed", "confirmed", undefined, "confirmed", "confirmed", "confirmed", "confirmed",
      "confirmed", "confirmed", "confirmed", "confirmed", "confirmed", "confirmed", "confirmed",
    ]);
    expect(String((await f.ledger.getFunction("getBatch")(c1)).custodian)).to.equal(f.stall.address);
    expect(await f.ledger.getFunction("isRecalled")(M)).to.equal(true);
    // Blocks follow log order: each entry was mined no earlier than the one before it.
    const blocks = [];
    for (const i of indices) {
      const rec = await r.status(i);
      if (rec === undefined) continue;
      expect(rec.txHash).to.match(/^0x[0-9a-f]{64}$/);
      blocks.push(rec.blockNumber!);
    }
    expect(blocks).to.deep.equal([...blocks].sort((a, b) => a - b));
    expect(await eventsOf("Registered", A)).to.equal(1);
  });

  it("records a refusal with the contract's custom error and its arguments, and goes on with the next entry", async function () {
    const reg = values.registered();
    const A = batchIdOf(reg.gtin, reg.lot);
    await log(Kind.Registered, reg, f.producer);
    await log(Kind.Recalled, values.recalled(A), f.regulator);
    const refused = await log(Kind.HandOffOffered, values.offered(A, f.wholesaler.address), f.producer);
    const stranger = await log(Kind.Inspected, values.inspected(A), f.wholesaler); // no INSPECTOR_ROLE, recalled
    const reg2 = values.registered();
    const after = await log(Kind.Registered, reg2, f.producer);
    const r = relay();
    await drain(r);
    const rec = await r.status(refused);
    expect(rec).to.include({ status: "refused", errorName: "BatchRecalled" });
    expect(rec?.error).to.equal(`BatchRecalled(${A}, ${A})`);
    expect((await r.status(stranger))?.errorName).to.equal("AccessControlUnauthorizedAccount");
    expect((await r.status(after))?.status).to.equal("confirmed");
  });

  it("refuses an entry whose stored body does not hash to what the actor signed, without a transaction", async function () {
    const reg = values.registered();
    const bad = await log(Kind.Registered, reg, f.producer, (v) => ({ ...v, quantity: v.quantity + 1n }));
    const good = await log(Kind.Registered, values.registered(), f.producer);
    const before = await ethers.provider.getTransactionCount(f.relayer.address);
    const r = relay();
    await drain(r);
    expect(await r.status(bad)).to.include({ status: "refused", errorName: "RelayBodyInvalid" });
    expect((await r.status(good))?.status).to.equal("confirmed");
    expect(await ethers.provider.getTransactionCount(f.relayer.address)).to.equal(before + 1);
  });

  it("records a mined revert with the custom error the call raises in that block", async function () {
    const reg = values.registered();
    const A = batchIdOf(reg.gtin, reg.lot);
    await log(Kind.Registered, reg, f.producer);
    const r = relay();
    await drain(r);
    const idx = await log(Kind.Inspected, values.inspected(A), f.inspector);
    await automine(false);
    await r.syncOnce(); // simulated fine, sent
    expect((await r.status(idx))?.status).to.equal("sent");
    // The regulator's authority revokes the inspector in the same block, ahead of the relayed call.
    await (f.ledger.connect(f.admin) as Contract).getFunction("revokeRole")(ethers.id("INSPECTOR_ROLE"), f.inspector.address, {
      maxPriorityFeePerGas: 50_000_000_000n,
      maxFeePerGas: 100_000_000_000n,
    });
    await mine();
    await automine(true);
    await r.syncOnce();
    const rec = await r.status(idx);
    expect(rec).to.include({ status: "refused", errorName: "AccessControlUnauthorizedAccount" });
    expect(rec?.error).to.equal(
      `AccessControlUnauthorizedAccount(${f.inspector.address.toLowerCase()}, ${ethers.id("INSPECTOR_ROLE")})`,
    );
    expect(rec?.blockNumber).to.be.a("number");
  });

  it("pipelines independent batches: several transactions in flight, nonces in log order", async function () {
    const regs = Array.from({ length: 5 }, () => values.registered());
    const indices = [];
    for (const v of regs) indices.push(await log(Kind.Registered, v, f.producer));
    // The second event of the first batch must wait for its registration to be mined.
    const dependent = await log(Kind.PesticideApplied, values.pesticide(batchIdOf(regs[0]!.gtin, regs[0]!.lot)), f.producer);
    await automine(false);
    const r = relay({ maxInFlight: 8 });
    const pass = await r.syncOnce();
    expect(pass.sent).to.equal(5);
    const rows = await store.relayRows("sent");
    expect(rows.map((x) => x.index)).to.deep.equal(indices);
    const nonces = rows.map((x) => x.nonce!);
    expect(nonces).to.deep.equal(nonces.map((_, i) => nonces[0]! + i));
    expect((await r.status(dependent))?.status).to.equal("pending");
    await mine();
    await automine(true);
    await drain(r);
    expect((await r.status(dependent))?.status).to.equal("confirmed");
  });

  describe("crash safety", function () {
    it("crash after the send was mined but before the outcome was stored: restart settles it, sends nothing again", async function () {
      const reg = values.registered();
      const A = batchIdOf(reg.gtin, reg.lot);
      const idx = await log(Kind.Registered, reg, f.producer);
      const crashed = relay();
      await crashed.syncOnce(); // automine: mined at once, still 'sent' in the store; the object is then dropped
      expect((await store.relayRecord(idx))?.status).to.equal("sent");
      const nonce = await ethers.provider.getTransactionCount(f.relayer.address);
      store = await s.reopen(store);
      const restarted = relay();
      await restarted.start();
      await restarted.stop();
      expect((await restarted.status(idx))?.status).to.equal("confirmed");
      await drain(restarted);
      expect(await ethers.provider.getTransactionCount(f.relayer.address)).to.equal(nonce);
      expect(await eventsOf("Registered", A)).to.equal(1);
    });

    it("crash after the send, transaction lost by the node: restart re-broadcasts the same bytes, applied once", async function () {
      const { A, idx, sent } = await sendUnmined(relay());
      expect(await dropTransaction(sent.txHash!)).to.equal(true);
      store = await s.reopen(store);
      const restarted = relay();
      await restarted.start();
      await restarted.stop();
      expect((await ethers.provider.getTransaction(sent.txHash!))?.nonce).to.equal(sent.nonce);
      await mine();
      await automine(true);
      await drain(restarted);
      expect(await restarted.status(idx)).to.include({ status: "confirmed", txHash: sent.txHash });
      expect(await eventsOf("Registered", A)).to.equal(1);
    });

    it("replaces a transaction stuck in the mempool at higher fees; whichever copy lands, the event is applied once", async function () {
      const clock = manualClock();
      const logger = memoryLogger();
      const r = relay({ clock, feeBumpAfterMs: 30_000, logger });
      const { A, idx, sent } = await sendUnmined(r);
      expect(sent.status).to.equal("sent");
      clock.advance(29_999);
      await r.syncOnce();
      expect((await store.relayRecord(idx))!.txHash, "not stuck yet").to.equal(sent.txHash);
      clock.advance(1);
      await r.syncOnce();
      const bumped = (await store.relayRecord(idx))!;
      expect(bumped).to.include({ status: "sent", nonce: sent.nonce });
      expect(bumped.txHash).to.not.equal(sent.txHash);
      const [before, after] = [Transaction.from(sent.rawTx!), Transaction.from(bumped.rawTx!)];
      expect(after.data).to.equal(before.data);
      expect(after.maxFeePerGas! * 100n >= before.maxFeePerGas! * 110n).to.equal(true);
      expect(logger.lines.some((l) => /replaced at higher fees/.test(l.msg))).to.equal(true);
      expect(await ethers.provider.getTransaction(bumped.txHash!)).to.not.equal(null);
      // Say the first copy is what lands: the row is settled from the chain's event, found by its hash.
      await dropTransaction(bumped.txHash!);
      await ethers.provider.broadcastTransaction(sent.rawTx!);
      await mine();
      await automine(true);
      await drain(r);
      expect(await r.status(idx)).to.include({ status: "confirmed", txHash: sent.txHash });
      expect(await eventsOf("Registered", A)).to.equal(1);
    });

    it("lost transaction whose event the actor sent directly: confirmed from the chain's event, never resubmitted", async function () {
      const producer = f.producer;
      await ethers.provider.send("hardhat_setBalance", [producer.address, "0x56BC75E2D63100000"]);
      const { reg, A, idx, sent } = await sendUnmined(relay(), producer);
      await dropTransaction(sent.txHash!);
      // The relayer's nonce goes to another transaction, and the producer registers the batch itself.
      await f.relayer.sendTransaction({ to: f.relayer.address, value: 0n, nonce: sent.nonce! });
      const direct = await (f.ledger.connect(producer) as Contract).getFunction("register")(reg, producer.address, "0x");
      await mine();
      await automine(true);
      store = await s.reopen(store);
      const restarted = relay();
      await restarted.start();
      await restarted.stop();
      expect(await restarted.status(idx)).to.include({ status: "confirmed", txHash: direct.hash.toLowerCase() });
      await drain(restarted);
      expect(await ethers.provider.getTransactionCount(f.relayer.address)).to.equal(sent.nonce! + 1);
      expect(await eventsOf("Registered", A)).to.equal(1);
    });

    it("lost transaction whose nonce was spent elsewhere and whose event is not on chain: sent again, applied once", async function () {
      const { A, idx, sent } = await sendUnmined(relay());
      await dropTransaction(sent.txHash!);
      await f.relayer.sendTransaction({ to: f.relayer.address, value: 0n, nonce: sent.nonce! });
      await mine();
      await automine(true);
      store = await s.reopen(store);
      const restarted = relay();
      await restarted.start();
      await restarted.stop();
      expect((await restarted.status(idx))?.status).to.equal("pending");
      await drain(restarted);
      const rec = await restarted.status(idx);
      expect(rec?.status).to.equal("confirmed");
      expect(rec?.nonce).to.equal(sent.nonce! + 1);
      expect(await eventsOf("Registered", A)).to.equal(1);
    });

    it("an event the actor already recorded is never applied twice: the relay's copy is refused NonceAlreadyUsed", async function () {
      await ethers.provider.send("hardhat_setBalance", [f.producer.address, "0x56BC75E2D63100000"]);
      const reg = values.registered();
      const A = batchIdOf(reg.gtin, reg.lot);
      const idx = await log(Kind.Registered, reg, f.producer);
      await (f.ledger.connect(f.producer) as Contract).getFunction("register")(reg, f.producer.address, "0x");
      const r = relay();
      await drain(r);
      expect(await r.status(idx)).to.include({ status: "refused", errorName: "NonceAlreadyUsed" });
      expect(await eventsOf("Registered", A)).to.equal(1);
    });
  });

  describe("in groups (relayGroup)", function () {
    const grouped = (over: Partial<RelayOptions> = {}) => relay({ groupSize: 50, ...over });

    async function relayerNonce(): Promise<number> {
      return ethers.provider.getTransactionCount(f.relayer.address);
    }

    /** Logs `n` registrations by the producer; returns their values, batch ids and log indices. */
    async function registrations(n: number) {
      const out = [];
      for (let i = 0; i < n; i++) {
        const v = values.registered();
        out.push({ v, id: batchIdOf(v.gtin, v.lot), idx: await log(Kind.Registered, v, f.producer) });
      }
      return out;
    }

    it("records events of different lots in one relayGroup transaction, every row confirmed and pointing at it", async function () {
      const regs = await registrations(3);
      const [a, b] = [regs[0]!, regs[1]!];
      await drain(relay());
      const before = await relayerNonce();
      const indices = [await log(Kind.PesticideApplied, values.pesticide(a.id), f.producer)];
      await observe(a.id); // between them in the log, never relayed
      indices.push(await log(Kind.Inspected, values.inspected(b.id), f.inspector));
      indices.push(await log(Kind.HandOffOffered, values.offered(regs[2]!.id, f.wholesaler.address), f.producer));
      const r = grouped();
      expect((await r.syncOnce()).sent).to.equal(3);
      await drain(r);
      expect(await relayerNonce()).to.equal(before + 1);
      const rows = await Promise.all(indices.map(async (i) => (await r.status(i))!));
      expect(rows.map((x) => x.status)).to.deep.equal(["confirmed", "confirmed", "confirmed"]);
      const group = rows[0]!.group!;
      expect(rows.map((x) => [x.group, x.txHash, x.nonce, x.blockNumber])).to.deep.equal(rows.map(() => [group, rows[0]!.txHash, before, rows[0]!.blockNumber]));
      const stored = (await store.relayGroup(group))!;
      expect(stored).to.include({ calls: 3, nonce: before, txHash: rows[0]!.txHash });
      const tx = Transaction.from(stored.rawTx);
      expect(tx.data.slice(0, 10)).to.equal(f.ledger.interface.getFunction("relayGroup")!.selector);
      expect((await ethers.provider.getTransactionReceipt(rows[0]!.txHash!))!.status).to.equal(1);
      expect(await eventsOf("PesticideApplied", a.id)).to.equal(1);
      expect(await eventsOf("Inspected", b.id)).to.equal(1);
    });

    it("sends an entry that ends up alone as its own call, not as a group of one", async function () {
      const [a] = await registrations(1);
      const r = grouped();
      await drain(r);
      const row = (await r.status(a!.idx))!;
      expect(row).to.include({ status: "confirmed", group: undefined });
      expect(Transaction.from(row.rawTx!).data.slice(0, 10)).to.equal(f.ledger.interface.getFunction("register")!.selector);
    });

    it("catches up past thousands of Observed entries in one pass: the lifecycle entries around them go out as one group", async function () {
      const regs = await registrations(3);
      await drain(relay());
      const before = await relayerNonce();
      const indices: number[] = [];
      for (const [i, reg] of regs.entries()) {
        indices.push(await log(Kind.Inspected, values.inspected(reg.id), f.inspector));
        // A market's log is mostly readings: 2,000 of them between one lifecycle entry and the next.
        if (i < regs.length - 1) await observeMany(reg.id, 2_000);
      }
      const r = grouped();
      expect((await r.syncOnce()).sent).to.equal(3);
      await drain(r);
      expect(await relayerNonce()).to.equal(before + 1);
      const rows = await Promise.all(indices.map(async (i) => (await r.status(i))!));
      expect(rows.every((x) => x.status === "confirmed" && x.group === rows[0]!.group)).to.equal(true);
      expect(rows[0]!.group).to.not.equal(undefined);
    });

    it("runs dependent events of one lot in order inside one group: registration, pesticide, offer and acceptance", async function () {
      const reg = values.registered();
      const A = batchIdOf(reg.gtin, reg.lot);
      const before = await relayerNonce();
      const indices = [
        await log(Kind.Registered, reg, f.producer),
        await log(Kind.PesticideApplied, values.pesticide(A), f.producer),
        await log(Kind.HandOffOffered, values.offered(A, f.wholesaler.address), f.producer),
        await log(Kind.HandOffAccepted, values.accepted(A, f.producer.address), f.wholesaler),
      ];
      const r = grouped();
      expect((await r.syncOnce()).sent).to.equal(4);
      await drain(r);
      expect(await relayerNonce()).to.equal(before + 1);
      const rows = await Promise.all(indices.map(async (i) => (await r.status(i))!));
      expect(new Set(rows.map((x) => x.txHash)).size).to.equal(1);
      expect(rows.every((x) => x.status === "confirmed")).to.equal(true);
      expect(String((await f.ledger.getFunction("getBatch")(A)).custodian)).to.equal(f.wholesaler.address);
    });

    it("refuses locally, before broadcasting, each call a rule refuses, and sends the others in one transaction", async function () {
      const reg = values.registered();
      const A = batchIdOf(reg.gtin, reg.lot);
      await log(Kind.Registered, reg, f.producer);
      const recall = await log(Kind.Recalled, values.recalled(A), f.regulator);
      // Refused in the simulation because the recall before it in the same group ran first.
      const offer = await log(Kind.HandOffOffered, values.offered(A, f.wholesaler.address), f.producer);
      const stranger = await log(Kind.Inspected, values.inspected(A), f.wholesaler);
      const other = (await registrations(1))[0]!;
      const before = await relayerNonce();
      const r = grouped();
      const pass = await r.syncOnce();
      expect(pass).to.include({ sent: 3, refused: 2 });
      expect(await r.status(offer)).to.include({ status: "refused", errorName: "BatchRecalled", error: `BatchRecalled(${A}, ${A})`, txHash: undefined, group: undefined });
      expect((await r.status(stranger))?.errorName).to.equal("AccessControlUnauthorizedAccount");
      await drain(r);
      expect(await relayerNonce()).to.equal(before + 1);
      expect((await r.status(recall))?.status).to.equal("confirmed");
      expect((await r.status(other.idx))?.status).to.equal("confirmed");
      expect((await store.relayGroup((await r.status(recall))!.group!))?.calls).to.equal(3);
    });

    it("a call refused on chain (a recall mined between simulation and mining): the others confirm, it is refused with its reason, its nonce unspent", async function () {
      const [a, b] = await registrations(2).then((r) => [r[0]!, r[1]!] as const);
      await drain(relay());
      const inspection = values.inspected(a.id);
      const refusedIdx = await log(Kind.Inspected, inspection, f.inspector);
      const okIdx = await log(Kind.PesticideApplied, values.pesticide(b.id), f.producer);
      await automine(false);
      const r = grouped();
      expect((await r.syncOnce()).sent, "both simulated fine, sent in one group").to.equal(2);
      // The regulator recalls lot A directly, outbidding the relayer into the same block.
      await ethers.provider.send("hardhat_setBalance", [f.regulator.address, "0x56BC75E2D63100000"]);
      await (f.ledger.connect(f.regulator) as Contract).getFunction("recall")(values.recalled(a.id), f.regulator.address, "0x", {
        maxPriorityFeePerGas: 50_000_000_000n,
        maxFeePerGas: 100_000_000_000n,
      });
      await mine();
      await automine(true);
      await drain(r);
      const refused = (await r.status(refusedIdx))!;
      const ok = (await r.status(okIdx))!;
      expect(ok.status).to.equal("confirmed");
      expect(refused).to.include({ status: "refused", errorName: "BatchRecalled", txHash: ok.txHash, blockNumber: ok.blockNumber });
      expect(refused.error).to.equal(
        `BatchRecalled(${a.id}, ${a.id}); refused as call 1 of 2 of relayGroup transaction ${ok.txHash}, so the actor's nonce was not spent`,
      );
      expect(await f.ledger.getFunction("nonceUsed")(f.inspector.address, inspection.nonce)).to.equal(false);
      expect(await eventsOf("Inspected", a.id)).to.equal(0);
      expect(await eventsOf("PesticideApplied", b.id)).to.equal(1);
    });

    it("holds back an entry whose lot has a group in flight until that group is settled", async function () {
      const regs = await registrations(3);
      const dependent = await log(Kind.PesticideApplied, values.pesticide(regs[1]!.id), f.producer);
      await automine(false);
      const r = grouped({ groupSize: 2 });
      const first = await r.syncOnce();
      // Registrations 0 and 1 in one group, registration 2 alone; the pesticide waits for registration 1's group.
      expect(first.sent).to.equal(3);
      expect((await r.status(dependent))?.status).to.equal("pending");
      await r.syncOnce();
      expect((await r.status(dependent))?.status, "still in flight: it waits").to.equal("pending");
      await mine();
      await automine(true);
      await drain(r);
      expect((await r.status(dependent))?.status).to.equal("confirmed");
      const groups = await Promise.all(regs.map(async (x) => (await r.status(x.idx))!.group));
      expect(groups[0]).to.be.a("number");
      expect(groups[1]).to.equal(groups[0]);
      expect(groups[2]).to.equal(undefined);
    });

    it("cuts a group whose gas would pass maxGroupGas; the calls cut off follow in later transactions, in log order", async function () {
      const regs = await registrations(6);
      const before = await relayerNonce();
      const r = grouped({ maxGroupGas: 700_000 });
      await drain(r);
      const rows = await Promise.all(regs.map(async (x) => (await r.status(x.idx))!));
      expect(rows.every((x) => x.status === "confirmed")).to.equal(true);
      const txs = [...new Set(rows.map((x) => x.txHash!))];
      expect(txs.length).to.be.greaterThan(1);
      expect(await relayerNonce()).to.equal(before + txs.length);
      for (const hash of txs) expect((await ethers.provider.getTransaction(hash))!.gasLimit <= 700_000n).to.equal(true);
      const nonces = rows.map((x) => x.nonce!);
      expect(nonces).to.deep.equal([...nonces].sort((x, y) => x - y));
    });

    describe("crash safety", function () {
      /** Logs `n` registrations and has a grouped relay send them unmined: their rows 'sent', the group in the mempool. */
      async function sendGroupUnmined(r: Relay, n = 3) {
        const regs = await registrations(n);
        await automine(false);
        await r.syncOnce();
        const rows = await Promise.all(regs.map(async (x) => (await store.relayRecord(x.idx))!));
        expect(rows.map((x) => x.status)).to.deep.equal(regs.map(() => "sent"));
        return { regs, rows, group: (await store.relayGroup(rows[0]!.group!))! };
      }

      it("crash after the group was mined but before its outcome was stored: restart settles every row, sends nothing again", async function () {
        const regs = await registrations(3);
        await grouped().syncOnce(); // automine: mined at once, every row still 'sent'; the relay is then dropped
        expect((await store.relayRows("sent")).length).to.equal(3);
        const nonce = await relayerNonce();
        store = await s.reopen(store);
        const restarted = grouped();
        await restarted.start();
        await restarted.stop();
        for (const x of regs) expect((await restarted.status(x.idx))?.status).to.equal("confirmed");
        await drain(restarted);
        expect(await relayerNonce()).to.equal(nonce);
        for (const x of regs) expect(await eventsOf("Registered", x.id)).to.equal(1);
      });

      it("crash between storing the group and broadcasting it: restart broadcasts the same bytes, each event applied once", async function () {
        const { regs, group } = await sendGroupUnmined(grouped());
        // As if the process died before the broadcast: the node never saw the transaction.
        expect(await dropTransaction(group.txHash)).to.equal(true);
        store = await s.reopen(store);
        const restarted = grouped();
        await restarted.start();
        await restarted.stop();
        expect((await ethers.provider.getTransaction(group.txHash))?.nonce).to.equal(group.nonce);
        await mine();
        await automine(true);
        await drain(restarted);
        for (const x of regs) {
          expect(await restarted.status(x.idx)).to.include({ status: "confirmed", txHash: group.txHash, group: group.id });
          expect(await eventsOf("Registered", x.id)).to.equal(1);
        }
      });

      it("replaces a stuck group at higher fees once for all its rows; whichever copy lands, each event is applied once", async function () {
        const clock = manualClock();
        const logger = memoryLogger();
        const r = grouped({ clock, feeBumpAfterMs: 30_000, logger });
        const { regs, group } = await sendGroupUnmined(r);
        clock.advance(29_999);
        await r.syncOnce();
        expect((await store.relayGroup(group.id))!.txHash, "not stuck yet").to.equal(group.txHash);
        clock.advance(1);
        await r.syncOnce();
        const bumped = (await store.relayGroup(group.id))!;
        expect(bumped).to.include({ nonce: group.nonce, calls: 3 });
        expect(bumped.txHash).to.not.equal(group.txHash);
        for (const x of regs) expect((await store.relayRecord(x.idx))!.txHash).to.equal(bumped.txHash);
        const [before, after] = [Transaction.from(group.rawTx), Transaction.from(bumped.rawTx)];
        expect(after.data).to.equal(before.data);
        expect(after.maxFeePerGas! * 100n >= before.maxFeePerGas! * 110n).to.equal(true);
        expect(logger.lines.filter((l) => /group transaction stuck; replaced at higher fees/.test(l.msg)).length).to.equal(1);
        // Say the first copy is what lands: every row is settled from the chain's events, found by their hashes.
        await dropTransaction(bumped.txHash);
        await ethers.provider.broadcastTransaction(group.rawTx);
        await mine();
        await automine(true);
        await drain(r);
        for (const x of regs) {
          expect(await r.status(x.idx)).to.include({ status: "confirmed", txHash: group.txHash });
          expect(await eventsOf("Registered", x.id)).to.equal(1);
        }
      });

      it("counts a group's fee bumps in the store: restarted after the last bump allowed, the relay does not raise it again", async function () {
        const clock = manualClock();
        const options = { clock, feeBumpAfterMs: 30_000, maxFeeBumps: 1 };
        const r = grouped(options);
        const { regs, group } = await sendGroupUnmined(r);
        clock.advance(30_000);
        await r.syncOnce();
        const bumped = (await store.relayGroup(group.id))!;
        expect(bumped).to.include({ feeBumps: 1 });
        expect(bumped.txHash).to.not.equal(group.txHash);
        // A new process (or a new leader) reads the count from the store instead of starting it again.
        store = await s.reopen(store);
        const restarted = grouped(options);
        clock.advance(60_000);
        await restarted.syncOnce();
        expect(await store.relayGroup(group.id)).to.include({ feeBumps: 1, txHash: bumped.txHash, rawTx: bumped.rawTx });
        await mine();
        await automine(true);
        await drain(restarted);
        for (const x of regs) expect(await eventsOf("Registered", x.id)).to.equal(1);
      });

      it("a lost group whose nonce was spent elsewhere: its rows go back to pending and are sent again, each applied once", async function () {
        const { regs, group } = await sendGroupUnmined(grouped());
        await dropTransaction(group.txHash);
        await f.relayer.sendTransaction({ to: f.relayer.address, value: 0n, nonce: group.nonce });
        await mine();
        await automine(true);
        store = await s.reopen(store);
        const restarted = grouped();
        await restarted.start();
        await restarted.stop();
        for (const x of regs) expect(await restarted.status(x.idx)).to.include({ status: "pending", group: undefined });
        await drain(restarted);
        const rows = await Promise.all(regs.map(async (x) => (await restarted.status(x.idx))!));
        expect(rows.every((x) => x.status === "confirmed" && x.nonce === group.nonce + 1)).to.equal(true);
        expect(rows[0]!.group).to.not.equal(group.id);
        for (const x of regs) expect(await eventsOf("Registered", x.id)).to.equal(1);
      });
    });
  });

  it("refuses to start without RELAYER_ROLE", async function () {
    let err: unknown;
    try {
      await relay({ signer: await fundedWallet() }).start();
    } catch (e) {
      err = e;
    }
    expect(String(err)).to.match(/lacks RELAYER_ROLE/);
  });
});
