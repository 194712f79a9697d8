/**
 * Which ancestor a recall is inherited from: the contract names it in BatchRecalled, the ingest rules mirror it, and
 * the chain index answers it for the provenance answer and the trace. With two recalled ancestors the order of the
 * walk decides, and the contract walks depth-first with a stack (the parent listed last first), where a breadth-first
 * walk would name the nearest. All three must name the same one: protocol/lineage.ts firstRecalled is that walk.
 */
import { expect } from "chai";
import { deployContracts } from "../../../ledger-api/src/chain/contracts.ts";
import { Indexer } from "../../../ledger-api/src/chain/indexer.ts";
import { withSnapshot } from "../../../ledger-api/src/ingest/ledger-view.ts";
import { recalledAncestor } from "../../../ledger-api/src/ingest/rules.ts";
import { Kind, batchIdOf, ledgerDomain } from "../../../ledger-api/src/protocol/typed-data.ts";
import type { Bytes32 } from "../../../ledger-api/src/protocol/typed-data.ts";
import { ethers, registerBatch, splitBatch, submit, values } from "../../contracts/fixtures.ts";
import type { Ledger } from "../../contracts/fixtures.ts";
import { forEachDriver, locations, type StoreLocation } from "../store/drivers.ts";

async function setUp(loc: StoreLocation) {
  const [admin, regulator, producer, producer2, importer, importer2, inspector, wholesaler, stall, relayer, outsider] =
    (await ethers.getSigners()).slice(0, 11) as [Ledger["admin"], ...Ledger["admin"][]] as Ledger["admin"][];
  const deployments = await deployContracts(admin!, admin!.address);
  const ledger = await ethers.getContractAt("ProvenanceLedger", deployments.ledger);
  await ledger.grantRole(ethers.id("REGULATOR_ROLE"), regulator!.address);
  await ledger.grantRole(ethers.id("PRODUCER_ROLE"), producer!.address);
  const { chainId } = await ethers.provider.getNetwork();
  const f = {
    ledger, domain: ledgerDomain(chainId, deployments.ledger), chainId,
    admin, regulator, producer, producer2, importer, importer2, inspector, wholesaler, stall, relayer, outsider,
  } as Ledger;
  const store = await loc.open();
  const indexer = new Indexer({ provider: ethers.provider, deployments, store, confirmations: 0, pollIntervalMs: 5, batchBlocks: 16 });
  return { f, store, indexer };
}

forEachDriver("recall source", function (driver) {
  const made = locations(driver);
  let env: Awaited<ReturnType<typeof setUp>>;

  beforeEach(async function () {
    env = await setUp(await made.create());
  });
  afterEach(async function () {
    await made.removeAll();
  });

  /** The recall source the contract names (in BatchRecalled), the rules name and the index names, in that order. */
  async function sources(batchId: Bytes32): Promise<[string, string | undefined, string | undefined]> {
    const { f, store, indexer } = env;
    await indexer.syncOnce();
    let named = "";
    try {
      await f.ledger.connect(f.producer).recordPesticide.staticCall(values.pesticide(batchId), f.producer.address, "0x");
    } catch (err) {
      const parsed = f.ledger.interface.parseError((err as { data: string }).data);
      expect(parsed?.name).to.equal("BatchRecalled");
      named = String(parsed?.args[1]).toLowerCase();
    }
    const rules = await withSnapshot(store, (view) => recalledAncestor(view, batchId));
    return [named, rules?.toLowerCase(), await store.recalledAncestor(batchId)];
  }

  /** A merge of two registered lots, `first` and `second` in that order; returns the merged lot's id. */
  async function merge(first: Bytes32, second: Bytes32): Promise<Bytes32> {
    const m = values.merged([first, second]);
    await submit(env.f, Kind.Merged, m, env.f.producer);
    return batchIdOf(m.gtin, m.lot).toLowerCase();
  }

  it("names the parent listed last when both parents of a merged lot are recalled", async function () {
    const { f } = env;
    const a = (await registerBatch(f)).batchId;
    const b = (await registerBatch(f)).batchId;
    const m = await merge(a, b);
    await submit(f, Kind.Recalled, values.recalled(a), f.regulator);
    await submit(f, Kind.Recalled, values.recalled(b), f.regulator);

    expect(await sources(m)).to.deep.equal([b.toLowerCase(), b.toLowerCase(), b.toLowerCase()]);
  });

  it("names a recalled grandparent through the last parent before a recalled first parent (depth-first, not nearest)", async function () {
    const { f } = env;
    const a = (await registerBatch(f)).batchId;
    const r = (await registerBatch(f, { quantity: 20n })).batchId;
    const [b] = (await splitBatch(f, r, f.producer, 10n, 10n)) as [Bytes32, Bytes32];
    const m = await merge(a, b);
    await submit(f, Kind.Recalled, values.recalled(a), f.regulator);
    await submit(f, Kind.Recalled, values.recalled(r), f.regulator);

    expect(await sources(m)).to.deep.equal([r.toLowerCase(), r.toLowerCase(), r.toLowerCase()]);
  });
});
