/**
 * The operations whose gas the README reports (scripts/gas-report.ts runs this file once per --grep: `direct` and
 * `relayed` read Hardhat's --gas-stats-json, `grouped` the file GAS_GROUPS_FILE names): every lifecycle call made
 * directly by its actor and relayed with the actor's signature, an anchor with its consistency proof, and relayed
 * lifecycle events at 1, 10 and 50 per transaction (relayGroup). Each operation runs several times on fresh batches
 * so the median is a typical call, and every call is checked to have succeeded, so a refused call can never pass
 * for cheap.
 */
import { writeFileSync } from "node:fs";
import { expect } from "chai";
import { Kind, batchIdOf } from "../../ledger-api/src/protocol/typed-data.ts";
import { MemoryNodeStore, consistencyProof, root } from "../../ledger-api/src/log/merkle.ts";
import { bytesToHex, leafHash } from "../../ledger-api/src/log/hash.ts";
import type { Bytes32 } from "../../ledger-api/src/protocol/typed-data.ts";
import {
  call,
  children,
  deployLedger,
  ethers,
  networkHelpers,
  ON_CHAIN,
  relayGroup,
  submit,
  values,
  type GroupCall,
  type Ledger,
} from "../contracts/fixtures.ts";

const RUNS = 5;

async function mined(tx: Promise<{ wait(): Promise<unknown> }>): Promise<void> {
  const receipt = (await (await tx).wait()) as { status: number } | null;
  expect(receipt?.status).to.equal(1);
}

function lifecycle(mode: "direct" | "relayed"): void {
  const relayed = mode === "relayed";
  describe(`lifecycle calls, ${mode}`, function () {
    let f: Ledger;
    beforeEach(async function () {
      f = await networkHelpers.loadFixture(deployLedger);
    });

    // Set-up calls go the same way as the measured ones, so each run's statistics hold only calls of its mode.
    async function registerBatch(over: { imported?: boolean } = {}) {
      const v = values.registered(over);
      await mined(submit(f, Kind.Registered, v, v.imported ? f.importer : f.producer, { relayed }));
      return { batchId: batchIdOf(v.gtin, v.lot) };
    }

    it(`register (${mode})`, async function () {
      for (let i = 0; i < RUNS; i++) await mined(submit(f, Kind.Registered, values.registered(), f.producer, { relayed }));
    });

    it(`recordPesticide, recordInspection (${mode})`, async function () {
      for (let i = 0; i < RUNS; i++) {
        const { batchId } = await registerBatch();
        await mined(submit(f, Kind.PesticideApplied, values.pesticide(batchId), f.producer, { relayed }));
        await mined(submit(f, Kind.Inspected, values.inspected(batchId), f.inspector, { relayed }));
      }
    });

    it(`clearCustoms (${mode})`, async function () {
      for (let i = 0; i < RUNS; i++) {
        const { batchId } = await registerBatch({ imported: true });
        await mined(submit(f, Kind.CustomsCleared, values.customs(batchId), f.importer, { relayed }));
      }
    });

    it(`offerHandOff, acceptHandOff, cancelHandOff (${mode})`, async function () {
      for (let i = 0; i < RUNS; i++) {
        const { batchId } = await registerBatch();
        await mined(submit(f, Kind.HandOffOffered, values.offered(batchId, f.wholesaler.address), f.producer, { relayed }));
        await mined(submit(f, Kind.HandOffCancelled, values.cancelled(batchId, f.wholesaler.address), f.producer, { relayed }));
        await mined(submit(f, Kind.HandOffOffered, values.offered(batchId, f.wholesaler.address), f.producer, { relayed }));
        await mined(submit(f, Kind.HandOffAccepted, values.accepted(batchId, f.producer.address), f.wholesaler, { relayed }));
      }
    });

    it(`split into 2, merge of 2 (${mode})`, async function () {
      for (let i = 0; i < RUNS; i++) {
        const { batchId } = await registerBatch();
        const kids = children(40n, 60n);
        await mined(submit(f, Kind.Split, values.split(batchId, kids), f.producer, { relayed }));
        const ids = kids.map((c) => batchIdOf(c.gtin, c.lot));
        await mined(submit(f, Kind.Merged, values.merged(ids), f.producer, { relayed }));
      }
    });

    it(`recall (${mode})`, async function () {
      for (let i = 0; i < RUNS; i++) {
        const { batchId } = await registerBatch();
        await mined(submit(f, Kind.HandOffOffered, values.offered(batchId, f.wholesaler.address), f.producer, { relayed }));
        await mined(submit(f, Kind.HandOffAccepted, values.accepted(batchId, f.producer.address), f.wholesaler, { relayed }));
        await mined(submit(f, Kind.Recalled, values.recalled(batchId), f.regulator, { relayed }));
      }
    });
  });
}

lifecycle("direct");
lifecycle("relayed");

describe("log anchor, direct", function () {
  it("anchor with a consistency proof (direct)", async function () {
    const [admin, anchorer] = await ethers.getSigners();
    if (!admin || !anchorer) throw new Error("signers");
    const log = await ethers.deployContract("LogAnchor", [admin.address]);
    await log.grantRole(await log.ANCHORER_ROLE(), anchorer.address);
    const tree = new MemoryNodeStore();
    let anchored = 0;
    // Typical anchors: 256 new entries each, on a log of a few thousand.
    for (let i = 0; i < 12; i++) {
      for (let j = 0; j < 256; j++) tree.append(leafHash(ethers.getBytes(ethers.id(`entry ${i}-${j}`))));
      const size = tree.size;
      const proof = anchored === 0 ? [] : (await consistencyProof(anchored, size, tree)).map(bytesToHex);
      await mined(log.connect(anchorer).getFunction("anchor")(size, bytesToHex(await root(size, tree)), proof));
      anchored = size;
    }
  });
});

/** Events per transaction measured for grouped relaying; 1 is also measured as today's single relayed call. */
const GROUP_SIZES = [1, 10, 50] as const;
const EVENTS = 50;

/** Gas per event of one kind: as single relayed calls, and in groups of each size (keys "single", "1", "10", "50"). */
type GroupGas = Record<string, number>;

describe("lifecycle events grouped (relayGroup)", function () {
  this.timeout(300_000);
  const measured: Record<string, GroupGas> = {};

  /** A fresh ledger with EVENTS lots held by the producer (registered in one group, outside the measurement). */
  async function lots(): Promise<{ f: Ledger; ids: Bytes32[] }> {
    const f = await networkHelpers.loadFixture(deployLedger);
    const regs = Array.from({ length: EVENTS }, () => values.registered());
    await mined(relayGroup(f, regs.map((v) => call(Kind.Registered, v, f.producer))));
    const ids = regs.map((v) => batchIdOf(v.gtin, v.lot));
    for (const id of ids) expect((await f.ledger.getBatch(id)).status).to.equal(1n);
    return { f, ids };
  }

  /** Total gas of sending `calls` in groups of `size` (0: one single relayed call each); every call must land. */
  async function gasOf(f: Ledger, calls: readonly GroupCall[], size: number): Promise<bigint> {
    let total = 0n;
    const chunks = size === 0 ? calls.map((c) => [c]) : Array.from({ length: calls.length / size }, (_, i) => calls.slice(i * size, (i + 1) * size));
    for (const chunk of chunks) {
      const tx =
        size === 0
          ? await submit(f, chunk[0]!.kind, chunk[0]!.values as never, chunk[0]!.actor, { relayed: true })
          : await relayGroup(f, chunk);
      const receipt = await tx.wait();
      expect(receipt?.status).to.equal(1);
      const events = (receipt?.logs ?? []).map((l) => f.ledger.interface.parseLog(l)?.name);
      expect(events.filter((n) => n === "GroupCallRefused")).to.deep.equal([]);
      expect(events.filter((n) => n === ON_CHAIN[chunk[0]!.kind].event)).to.have.length(chunk.length);
      total += receipt!.gasUsed;
    }
    return total;
  }

  const kinds = {
    PesticideApplied: (f: Ledger, id: Bytes32) => call(Kind.PesticideApplied, values.pesticide(id), f.producer),
    HandOffOffered: (f: Ledger, id: Bytes32) => call(Kind.HandOffOffered, values.offered(id, f.wholesaler.address), f.producer),
  } as const;

  for (const [kind, make] of Object.entries(kinds)) {
    it(`${kind} on ${EVENTS} lots: gas per event at 1, 10 and 50 per transaction, sent by the relayer`, async function () {
      const gas: GroupGas = {};
      for (const size of [0, ...GROUP_SIZES]) {
        const { f, ids } = await lots();
        gas[size === 0 ? "single" : String(size)] = Math.round(Number(await gasOf(f, ids.map((id) => make(f, id)), size)) / EVENTS);
      }
      measured[kind] = gas;
      // The goal of grouping (issue 9): at 50 per transaction, at least 25 % less gas per event than one per transaction.
      expect(gas["50"]!).to.be.at.most(gas.single! * 0.75);
    });
  }

  after(function () {
    if (process.env.GAS_GROUPS_FILE) writeFileSync(process.env.GAS_GROUPS_FILE, JSON.stringify(measured, null, 2) + "\n");
  });
});
