/**
 * The operations whose gas the README reports (scripts/gas-report.ts runs this file twice, once per --grep, and
 * reads Hardhat's --gas-stats-json): every lifecycle call made directly by its actor and relayed with the actor's
 * signature, and an anchor with its consistency proof. Each operation runs several times on fresh batches so the
 * median is a typical call, and every call is checked to have succeeded, so a refused call can never pass for cheap.
 */
import { expect } from "chai";
import { Kind, batchIdOf } from "../../ledger-api/src/protocol/typed-data.ts";
import { MemoryNodeStore, consistencyProof, root } from "../../ledger-api/src/log/merkle.ts";
import { bytesToHex, leafHash } from "../../ledger-api/src/log/hash.ts";
import {
  children,
  deployLedger,
  ethers,
  networkHelpers,
  submit,
  values,
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
