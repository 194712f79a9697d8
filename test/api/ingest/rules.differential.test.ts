/**
 * Differential test of ledger-api/src/ingest/rules.ts against the real ProvenanceLedger on Hardhat's in-process
 * chain. Seeded random sequences of lifecycle events (plus a few role and profile changes) over a small universe
 * of actors, GS1 keys and quantities; every step is judged by the mirror twice and then sent to the contract:
 *
 * - over a LedgerView read from the contract's own views just before the step (getBatch, hasRole, profileOf,
 *   nonceUsed), prefetching exactly the batches the event and the recall walk can reach, and failing loudly if the
 *   mirror asks for anything else;
 * - over a LayeredView whose base knows roles and profiles only (read from the chain) and no batches or nonces, fed
 *   with the effects of every event it accepted: how the API judges events it accepted but has not seen mined.
 *
 * Both must agree with the contract: accepted <=> mined; refused => the revert's error name and arguments; accepted
 * => every effect equals the contract's new record (and isRecalled, headOf, nonceUsed). At the end of a sequence the
 * overlay must equal the chain on every batch ever touched.
 *
 * RULES_SEED, RULES_SEQUENCES and RULES_STEPS replay or widen the run; a failure names its seed and step.
 */
import { expect } from "chai";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import { Kind, batchIdOf, eventHash, ledgerDomain } from "../../../ledger-api/src/protocol/typed-data.ts";
import type { Address, Bytes32, ChildLot, ValuesOf } from "../../../ledger-api/src/protocol/typed-data.ts";
import type { TypedDataDomain } from "ethers";
import { checkEvent, recalledAncestor } from "../../../ledger-api/src/ingest/rules.ts";
import type { BatchEffect, LedgerBatch, LedgerEvent, LedgerView, Verdict } from "../../../ledger-api/src/ingest/rules.ts";
import { LayeredView } from "../../../ledger-api/src/ingest/ledger-view.ts";
import { RecallWalkError } from "../../../ledger-api/src/protocol/lineage.ts";
import { ROLE_IDS, type RoleName } from "../../../ledger-api/src/protocol/roles.ts";
import { ON_CHAIN, ethers, gtin, networkHelpers } from "../../contracts/fixtures.ts";
import type { OnChainKind, ProvenanceLedger } from "../../contracts/fixtures.ts";
import { Rng, fromChain, normaliseArgs } from "./fixtures.ts";

const BASE_SEED = Number(process.env.RULES_SEED ?? 20_251_125);
const SEQUENCES = Number(process.env.RULES_SEQUENCES ?? 30);
const STEPS = Number(process.env.RULES_STEPS ?? 60);

/** The roles the rules read; a mirror asking about another one would be a bug the chain view reports. */
const RULE_ROLES: readonly RoleName[] = ["REGULATOR", "PRODUCER", "IMPORTER", "INSPECTOR", "HANDLER"];
const MAX_UINT256 = (1n << 256n) - 1n;

const G1 = gtin("0880123456789");
const G2 = gtin("0940000000001");
const BAD_CHECK = G1.slice(0, 13) + String((Number(G1[13]) + 1) % 10);
/** A valid GTIN-12 (gs1/keys.ts would pad it) and a GTIN with a letter: both GtinMalformed on chain. */
const GTIN12 = G1.slice(2);
const GTIN_LETTER = G1.slice(0, 5) + "A" + G1.slice(6);
const LOTS = ["A1", "A2", "A3", "B1", "B2", "M1", "M2", "C1", "C2", "C3"];
const BAD_LOTS = ["", "X".repeat(21), "bad lot", "lot#1", "Ä".repeat(11), "é1"];
const UNITS = ["kg", "kg", "kg", "box", "u".repeat(32)];
const BAD_UNITS = ["", "u".repeat(33), "箱".repeat(11)];

interface Tally {
  steps: number;
  accepted: number;
  byKind: Map<string, { accepted: number; refused: number }>;
  byRule: Map<string, number>;
  /** Merges the contract accepted with the child's own id among the parents (see the report on merge). */
  selfParented: number;
}
const tally: Tally = { steps: 0, accepted: 0, byKind: new Map(), byRule: new Map(), selfParented: 0 };

/** What the contract did with one call. */
type Outcome = { readonly mined: true } | { readonly mined: false; readonly rule: string; readonly args: readonly unknown[] };

describe("ingest rules: differential test against ProvenanceLedger", function () {
  this.timeout(600_000);
  const started = Date.now();

  after(function () {
    const rules = [...tally.byRule.entries()].sort((a, b) => b[1] - a[1]);
    const kinds = [...tally.byKind.entries()].map(([k, v]) => `${k} ${v.accepted}/${v.accepted + v.refused}`);
    console.log(
      `      rules differential: ${tally.steps} steps in ${((Date.now() - started) / 1000).toFixed(1)} s, ` +
        `${tally.accepted} accepted, ${tally.steps - tally.accepted} refused (seed ${BASE_SEED})\n` +
        `      accepted/total by kind: ${kinds.join(", ")}\n` +
        `      refusals by rule: ${rules.map(([r, n]) => `${r} ${n}`).join(", ")}\n` +
        `      merges mined with the child's own id as a parent: ${tally.selfParented}`,
    );
  });

  for (let i = 0; i < SEQUENCES; i++) {
    const seed = BASE_SEED + i;
    it(`agrees with the contract on every step of random sequence ${i} (seed ${seed}; RULES_SEED=${seed} RULES_SEQUENCES=1 replays it)`, async function () {
      await runSequence(seed);
    });
  }
});

describe("ingest rules: scripted lineages against ProvenanceLedger", function () {
  this.timeout(120_000);

  /** A world where actors[0] is the regulator and actors[1] a producer and handler, and a step runner. */
  async function scripted(seed: number) {
    const w = await newWorld(seed);
    const [regulator, producer] = w.actors as [HardhatEthersSigner, HardhatEthersSigner];
    await at(w, ++w.clock);
    await w.ledger.connect(w.admin).grantRole(ROLE_IDS.REGULATOR, regulator.address);
    for (const role of ["PRODUCER", "HANDLER"] as const) {
      await at(w, ++w.clock);
      await w.ledger.connect(w.admin).grantRole(ROLE_IDS[role], producer.address);
    }
    for (const a of w.actors) await readAccount(w, a.address);
    const step = async <K extends OnChainKind>(kind: K, actor: HardhatEthersSigner, values: (c: ReturnType<typeof common>) => ValuesOf[K]) => {
      const now = tick(w);
      const v = values(common(w, actor.address, now));
      // Scripted steps are meant to pass authentication: a fresh nonce (outside pickNonce's range) and a live deadline.
      const plain = { ...v, nonce: (1n << 128n) + ++w.nonceCounter, deadline: now + 1000n };
      return checkStep(w, { kind, actor: actor.address, values: plain, eventHash: eventHash(w.domain, kind, plain) } as LedgerEvent, now);
    };
    const register = async (lot: string, quantity = 8n) => {
      await step(Kind.Registered, producer, (c) => ({ ...c, gtin: G1, lot, product: "p", originCountry: "0x4b52", region: "r", farmGln: 0n, harvestDate: 0n, quantity, unit: "kg", imported: false }));
      return batchIdOf(G1, lot);
    };
    return { w, regulator, producer, step, register };
  }

  it("refuses, as the contract does, the split and the merge that would pass MAX_ANCESTRY", async function () {
    const { w, producer, step, register } = await scripted(1);
    let id = await register("DEEP", 1n << 40n);
    const refused = new Set<string>();
    for (let round = 0; round < 16 && refused.size < 2; round++) {
      const q = w.overlay.batch(id)!.quantity;
      const kids = [`D${round}a`, `D${round}b`];
      const split = await step(Kind.Split, producer, (c) => ({ ...c, batchId: id, children: kids.map((lot) => ({ gtin: G1, lot, quantity: q / 2n })) }));
      if (!split.ok) {
        refused.add(`split ${split.rule}`);
        const bigger = w.ids.filter((x) => w.overlay.batch(x)?.status === "Active" && x !== id);
        // Keep going through merges of what is left, until the merge is refused too.
        if (bigger.length === 0) break;
        const m = await step(Kind.Merged, producer, (c) => ({ ...c, parents: [id, bigger[0]!], gtin: G1, lot: `X${round}` }));
        if (!m.ok) refused.add(`merge ${m.rule}`);
        break;
      }
      const merged = await step(Kind.Merged, producer, (c) => ({ ...c, parents: kids.map((lot) => batchIdOf(G1, lot)), gtin: G1, lot: `D${round}m` }));
      if (!merged.ok) {
        refused.add(`merge ${merged.rule}`);
        id = batchIdOf(G1, kids[0]!);
      } else id = batchIdOf(G1, `D${round}m`);
    }
    expect([...refused]).to.have.members(["merge AncestryTooDeep", "split AncestryTooDeep"]);
    await compareAll(w, "ancestry");
  });

  it("finds the same recalled ancestor first as the contract's depth-first walk", async function () {
    const { regulator, producer, step, register } = await scripted(2);
    const [a, b, c] = [await register("RA"), await register("RB"), await register("RC")];
    await step(Kind.Merged, producer, (x) => ({ ...x, parents: [a, b, c], gtin: G1, lot: "RM" }));
    const m = batchIdOf(G1, "RM");
    for (const id of [a, c, b]) await step(Kind.Recalled, regulator, (x) => ({ ...x, batchId: id, reason: "r" }));
    const v = await step(Kind.PesticideApplied, producer, (x) => ({ ...x, batchId: m, substance: "s", casNumber: "1-1-1", preHarvestIntervalDays: 1n }));
    expect(v.ok).to.equal(false);
    if (!v.ok) expect([v.rule, ...v.args]).to.deep.equal(["BatchRecalled", m, c]); // the last parent pushed is the first popped
  });

  it("refuses, like the contract, a merge that names its own new lot among its parents", async function () {
    const { w, producer, step, register } = await scripted(3);
    const a = await register("SA");
    const self = batchIdOf(G1, "SELF");
    const v = await step(Kind.Merged, producer, (x) => ({ ...x, parents: [a, self], gtin: G1, lot: "SELF" }));
    expect(v.ok).to.equal(false);
    if (!v.ok) expect([v.rule, ...v.args]).to.deep.equal(["MergeIntoParent", self]);
    expect(w.overlay.batch(self)).to.equal(undefined);
    await compareAll(w, "self-parented merge");
  });
});

// ------------------------------------------------------------------------------------------------------------------

async function deployBare() {
  const [admin] = await ethers.getSigners();
  const ledger = await ethers.deployContract("ProvenanceLedger", [admin!.address]);
  return { ledger };
}

interface World {
  readonly rng: Rng;
  readonly ledger: ProvenanceLedger;
  readonly domain: TypedDataDomain;
  readonly admin: HardhatEthersSigner;
  /** Accounts that act; the last holds no role and no profile. */
  readonly actors: readonly HardhatEthersSigner[];
  readonly roles: Map<string, Set<RoleName>>;
  readonly retail: Map<string, boolean>;
  readonly nonces: Map<string, bigint[]>;
  /** Every batch id that exists on chain, in creation order. */
  readonly ids: Bytes32[];
  readonly overlay: LayeredView;
  clock: bigint;
  lotCounter: number;
  nonceCounter: bigint;
}

async function newWorld(seed: number): Promise<World> {
  const rng = new Rng(seed);
  const { ledger: bare } = await networkHelpers.loadFixture(deployBare);
  const ledger = bare as unknown as ProvenanceLedger;
  const signers = await ethers.getSigners();
  const admin = signers[0]!;
  const actors = signers.slice(1, 9);
  const { chainId } = await ethers.provider.getNetwork();
  const roles = new Map<string, Set<RoleName>>();
  const retail = new Map<string, boolean>();
  const rolesAndProfiles: LedgerView = {
    batch: () => undefined,
    nonceUsed: () => false,
    hasRole: (role, account) => snapshotRole(roles, role, account),
    isRetail: (account) => snapshotRetail(retail, account),
  };
  const w: World = {
    rng,
    ledger,
    domain: ledgerDomain(chainId, await ledger.getAddress()),
    admin,
    actors,
    roles,
    retail,
    nonces: new Map(),
    ids: [],
    overlay: new LayeredView(rolesAndProfiles),
    clock: BigInt(await networkHelpers.time.latest()),
    lotCounter: 0,
    nonceCounter: 0n,
  };
  return w;
}

async function runSequence(seed: number): Promise<void> {
  const w = await newWorld(seed);
  const { rng } = w;
  await assignRoles(w);

  for (let step = 0; step < STEPS; step++) {
    const where = `seed ${seed}, step ${step}`;
    if (rng.chance(0.06)) {
      await adminStep(w);
      continue;
    }
    const now = tick(w);
    const event = generate(w, now);
    try {
      await checkStep(w, event, now);
    } catch (e) {
      console.error(`      FAILED at ${where}: ${describeEvent(event)}`);
      throw e;
    }
  }
  await compareAll(w, `seed ${seed}, end`);
}

/** Moves the clock on and makes it the next block's timestamp, so `now` is the block time the contract sees. */
function tick(w: World): bigint {
  w.clock += w.rng.chance(0.05) ? 1000n : BigInt(w.rng.int(1, 3));
  return w.clock;
}

async function at(w: World, now: bigint): Promise<void> {
  await networkHelpers.time.setNextBlockTimestamp(now);
}

// ------------------------------------------------------------------------------------------------------------------
// Roles and profiles
// ------------------------------------------------------------------------------------------------------------------

function snapshotRole(roles: Map<string, Set<RoleName>>, role: RoleName, account: Address): boolean {
  if (!RULE_ROLES.includes(role)) throw new Error(`the mirror asked about ${role}, which no rule reads`);
  return roles.get(account.toLowerCase())?.has(role) ?? false;
}

function snapshotRetail(retail: Map<string, boolean>, account: Address): boolean {
  return retail.get(account.toLowerCase()) ?? false;
}

/** Reads the roles and retail flag of `account` back from the contract's views. */
async function readAccount(w: World, account: Address): Promise<void> {
  const held = new Set<RoleName>();
  for (const role of RULE_ROLES) if (await w.ledger.hasRole(ROLE_IDS[role], account)) held.add(role);
  w.roles.set(account.toLowerCase(), held);
  w.retail.set(account.toLowerCase(), (await w.ledger.profileOf(account)).retail);
}

async function assignRoles(w: World): Promise<void> {
  const { rng, ledger, admin, actors } = w;
  const last = actors.length - 1;
  for (const [i, actor] of actors.entries()) {
    if (i === last) continue; // the outsider
    const grant: RoleName[] = [];
    if (i === 0 || rng.chance(0.1)) grant.push("REGULATOR");
    if (i === 1 || rng.chance(0.35)) grant.push("PRODUCER");
    if (i === 2 || rng.chance(0.25)) grant.push("IMPORTER");
    if (i === 3 || rng.chance(0.25)) grant.push("INSPECTOR");
    if (i >= 4 ? rng.chance(0.8) : rng.chance(0.3)) grant.push("HANDLER");
    for (const role of grant) {
      await at(w, ++w.clock);
      await ledger.connect(admin).grantRole(ROLE_IDS[role], actor.address);
    }
    if (rng.chance(0.35)) {
      await at(w, ++w.clock);
      await ledger.connect(admin).setProfile(actor.address, { name: `actor ${i}`, gln: 0n, country: "0x4b52", retail: true });
    }
  }
  for (const actor of actors) await readAccount(w, actor.address);
}

/** Grants or revokes a custody role, or flips a retail flag: what makes held batches stuck and hand-offs illegal. */
async function adminStep(w: World): Promise<void> {
  const { rng, ledger, admin } = w;
  const actor = rng.pick(w.actors.slice(0, -1));
  await at(w, ++w.clock);
  const r = rng.next();
  if (r < 0.4) {
    await ledger.connect(admin).revokeRole(ROLE_IDS[rng.pick(["PRODUCER", "IMPORTER", "HANDLER"] as const)], actor.address);
  } else if (r < 0.7) {
    await ledger.connect(admin).grantRole(ROLE_IDS[rng.pick(["PRODUCER", "IMPORTER", "HANDLER", "REGULATOR"] as const)], actor.address);
  } else {
    const retail = !snapshotRetail(w.retail, actor.address);
    await ledger.connect(admin).setProfile(actor.address, { name: "flipped", gln: 0n, country: "0x4b52", retail });
  }
  await readAccount(w, actor.address);
}

// ------------------------------------------------------------------------------------------------------------------
// Event generation: mostly plausible (so sequences get deep), sometimes not (so every rule fires)
// ------------------------------------------------------------------------------------------------------------------

const KIND_WEIGHTS: readonly [OnChainKind, number][] = [
  [Kind.Registered, 13],
  [Kind.PesticideApplied, 5],
  [Kind.Inspected, 5],
  [Kind.CustomsCleared, 7],
  [Kind.HandOffOffered, 12],
  [Kind.HandOffAccepted, 11],
  [Kind.HandOffCancelled, 4],
  [Kind.Split, 16],
  [Kind.Merged, 14],
  [Kind.Recalled, 3],
];

function generate(w: World, now: bigint): LedgerEvent {
  // With nothing to act on, most events would only meet UnknownBatch.
  let kind = activeIds(w).length < 2 && w.rng.chance(0.6) ? Kind.Registered : w.rng.weighted(KIND_WEIGHTS);
  const offers = w.ids.some((id) => state(w, id)?.offerTo !== undefined);
  if ((kind === Kind.HandOffAccepted || kind === Kind.HandOffCancelled) && !offers && w.rng.chance(0.7)) kind = Kind.HandOffOffered;
  const { actor, values } = generateValues(w, kind, now);
  return { kind, actor, values, eventHash: eventHash(w.domain, kind, values) } as LedgerEvent;
}

function holders(w: World, role: RoleName): HardhatEthersSigner[] {
  return w.actors.filter((a) => snapshotRole(w.roles, role, a.address));
}

function someActor(w: World, plausible: Address | undefined): Address {
  if (plausible !== undefined && w.rng.chance(0.8)) return plausible;
  return w.rng.pick(w.actors).address;
}

function withRole(w: World, role: RoleName): Address {
  const h = holders(w, role);
  return someActor(w, h.length > 0 ? w.rng.pick(h).address : undefined);
}

function state(w: World, id: Bytes32): LedgerBatch | undefined {
  return w.overlay.batch(id);
}

function activeIds(w: World): Bytes32[] {
  return w.ids.filter((id) => state(w, id)?.status === "Active");
}

function pickBatch(w: World): Bytes32 {
  const { rng } = w;
  const active = activeIds(w);
  if (active.length > 0 && rng.chance(0.9)) return rng.pick(active);
  if (w.ids.length > 0 && rng.chance(0.7)) return rng.pick(w.ids);
  if (rng.chance(0.5)) return batchIdOf(rng.pick([G1, G2]), rng.pick(LOTS));
  return ethers.hexlify(rng.bytes(32));
}

function pickGtin(w: World): string {
  if (w.rng.chance(0.06)) return w.rng.pick([BAD_CHECK, GTIN12, GTIN_LETTER]);
  return w.rng.chance(0.7) ? G1 : G2;
}

function pickLot(w: World, fresh: number): string {
  const { rng } = w;
  if (rng.chance(0.05)) return rng.pick(BAD_LOTS);
  if (rng.chance(fresh)) return `K${++w.lotCounter}`;
  return rng.pick(LOTS);
}

function pickNonce(w: World, actor: Address): bigint {
  const used = w.nonces.get(actor) ?? [];
  if (used.length > 0 && w.rng.chance(0.08)) return w.rng.pick(used);
  const nonce = ++w.nonceCounter * 7n + BigInt(w.rng.int(0, 6));
  used.push(nonce);
  w.nonces.set(actor, used);
  return nonce;
}

/** The common fields; the deadline is mostly comfortable, sometimes exactly the block time (still valid) or past. */
function common(w: World, actor: Address, now: bigint) {
  const { rng } = w;
  const r = rng.next();
  const deadline = r < 0.03 ? now - 1n : r < 0.04 ? 0n : r < 0.08 ? now : now + 10_000n;
  return {
    occurredAt: 1_760_000_000n + BigInt(rng.int(0, 1_000_000)),
    docHash: ethers.hexlify(rng.bytes(32)),
    nonce: pickNonce(w, actor),
    deadline,
  };
}

function quantity(w: World): bigint {
  const { rng } = w;
  if (rng.chance(0.04)) return 0n;
  if (rng.chance(0.04)) return 1n << 255n;
  return BigInt(rng.pick([1, 2, 3, 5, 10, 12, 100]));
}

/** Positive parts summing to `total` when it can, then maybe nudged off the conservation boundary. */
function partition(w: World, total: bigint, n: number): bigint[] {
  const { rng } = w;
  const parts: bigint[] = [];
  let left = total;
  for (let i = 0; i < n - 1; i++) {
    const room = left - BigInt(n - 1 - i);
    const part = room >= 1n ? 1n + (room > 1n ? rng.bigint(room) : 0n) : 0n;
    parts.push(part);
    left -= part;
  }
  parts.push(left < 0n ? 0n : left);
  const r = rng.next();
  const j = rng.int(0, n - 1);
  if (r < 0.12) parts[j] = parts[j]! + 1n;
  else if (r < 0.22 && parts[j]! > 0n) parts[j] = parts[j]! - 1n;
  else if (r < 0.25) parts[j] = MAX_UINT256;
  return parts;
}

function generateValues(w: World, kind: OnChainKind, now: bigint): { actor: Address; values: ValuesOf[OnChainKind] } {
  const { rng } = w;
  switch (kind) {
    case Kind.Registered: {
      const imported = rng.chance(0.4);
      const actor = withRole(w, imported ? "IMPORTER" : "PRODUCER");
      const values: ValuesOf[Kind.Registered] = {
        gtin: pickGtin(w),
        lot: pickLot(w, 0.5),
        product: "Hallabong",
        originCountry: "0x4b52",
        region: "Jeju",
        farmGln: 8801234000017n,
        harvestDate: 1_759_000_000n,
        quantity: quantity(w),
        unit: rng.chance(0.06) ? rng.pick(BAD_UNITS) : rng.pick(UNITS),
        imported,
        ...common(w, actor, now),
      };
      return { actor, values };
    }
    case Kind.PesticideApplied: {
      const batchId = pickBatch(w);
      const actor = someActor(w, state(w, batchId)?.custodian);
      return { actor, values: { batchId, substance: "Imidacloprid", casNumber: "138261-41-3", preHarvestIntervalDays: 14n, ...common(w, actor, now) } };
    }
    case Kind.Inspected: {
      const batchId = pickBatch(w);
      const actor = withRole(w, "INSPECTOR");
      return { actor, values: { batchId, passed: rng.chance(0.8), ...common(w, actor, now) } };
    }
    case Kind.CustomsCleared: {
      const imported = w.ids.filter((id) => state(w, id)?.imported && !state(w, id)?.customsCleared);
      const batchId = imported.length > 0 && rng.chance(0.7) ? rng.pick(imported) : pickBatch(w);
      const actor = someActor(w, state(w, batchId)?.registrant);
      const values: ValuesOf[Kind.CustomsCleared] = {
        batchId,
        declarationNumber: "KR-2025-1",
        hsCode: "0805.21",
        originCountry: "0x4e5a",
        portOfEntry: "KRPUS",
        ...common(w, actor, now),
      };
      return { actor, values };
    }
    case Kind.HandOffOffered: {
      const batchId = pickBatch(w);
      const actor = someActor(w, state(w, batchId)?.custodian);
      const custody = w.actors.filter((a) => (["PRODUCER", "IMPORTER", "HANDLER"] as const).some((r) => snapshotRole(w.roles, r, a.address)));
      const to =
        rng.chance(0.03) ? ethers.ZeroAddress
        : rng.chance(0.05) ? actor
        : custody.length > 0 && rng.chance(0.8) ? rng.pick(custody).address
        : rng.pick(w.actors).address;
      return { actor, values: { batchId, to, ...common(w, actor, now) } };
    }
    case Kind.HandOffAccepted: {
      const offered = w.ids.filter((id) => state(w, id)?.offerTo !== undefined);
      const batchId = offered.length > 0 && rng.chance(0.8) ? rng.pick(offered) : pickBatch(w);
      const b = state(w, batchId);
      const actor = someActor(w, b?.offerTo);
      const from = b !== undefined && rng.chance(0.85) ? b.custodian : rng.pick(w.actors).address;
      return { actor, values: { batchId, from, ...common(w, actor, now) } };
    }
    case Kind.HandOffCancelled: {
      const offered = w.ids.filter((id) => state(w, id)?.offerTo !== undefined);
      const batchId = offered.length > 0 && rng.chance(0.8) ? rng.pick(offered) : pickBatch(w);
      const b = state(w, batchId);
      const actor = someActor(w, b?.custodian);
      const to = b?.offerTo !== undefined && rng.chance(0.85) ? b.offerTo : rng.pick(w.actors).address;
      return { actor, values: { batchId, to, ...common(w, actor, now) } };
    }
    case Kind.Split: {
      // Often the deepest active batch, so that split / merge cycles reach MAX_ANCESTRY.
      const deepest = activeIds(w).filter((id) => state(w, id)!.offerTo === undefined).sort((a, b) => state(w, b)!.ancestry - state(w, a)!.ancestry)[0];
      const batchId = deepest !== undefined && rng.chance(0.4) ? deepest : pickBatch(w);
      const b = state(w, batchId);
      const actor = someActor(w, b?.custodian);
      const r = rng.next();
      const n = r < 0.03 ? rng.pick([0, 1]) : r < 0.05 ? 33 : r < 0.6 ? 2 : r < 0.9 ? 3 : 4;
      const total = b?.quantity ?? 10n;
      const quantities = n === 0 ? [] : partition(w, total, n);
      const children: ChildLot[] = quantities.map((q) => ({
        gtin: rng.chance(0.9) ? (rng.chance(0.5) ? G1 : G2) : pickGtin(w),
        lot: n > 4 ? `S${++w.lotCounter}` : pickLot(w, 0.8),
        quantity: q,
      }));
      return { actor, values: { batchId, children, ...common(w, actor, now) } };
    }
    case Kind.Merged: {
      // Mostly a custodian merging what it holds, so lineages grow deep enough to meet MAX_ANCESTRY.
      const active = activeIds(w);
      const byHolder = new Map<string, Bytes32[]>();
      for (const id of active) {
        const c = state(w, id)!.custodian;
        byHolder.set(c, [...(byHolder.get(c) ?? []), id]);
      }
      const rich = [...byHolder.entries()].filter(([, ids]) => ids.length >= 2);
      const [holder, held] = rich.length > 0 && rng.chance(0.85) ? rng.pick(rich) : [undefined, active];
      const actor = someActor(w, holder);
      const pool = rng.shuffle(held.length > 0 ? held : [pickBatch(w)]);
      const want = rng.chance(0.05) ? 1 : Math.max(2, Math.min(pool.length, rng.pick([2, 2, 2, 3, 3, 4])));
      const parents: Bytes32[] = [];
      for (let k = 0; k < want; k++) parents.push(k < pool.length && rng.chance(0.95) ? pool[k]! : pickBatch(w));
      const g = rng.chance(0.9) ? G1 : pickGtin(w);
      const lot = pickLot(w, 0.75);
      const r = rng.next();
      if (r < 0.03) parents.push(parents[0]!);
      // A parent whose id is the child's own, not yet existing: the contract creates the child first.
      else if (r < 0.08) parents.push(batchIdOf(g, lot));
      else if (r < 0.09) parents.unshift(batchIdOf(g, lot));
      return { actor, values: { parents, gtin: g, lot, ...common(w, actor, now) } };
    }
    case Kind.Recalled: {
      const done = w.ids.filter((id) => state(w, id)?.recalled);
      const batchId = done.length > 0 && rng.chance(0.15) ? rng.pick(done) : pickBatch(w);
      const actor = withRole(w, "REGULATOR");
      return { actor, values: { batchId, reason: "residue above MRL", ...common(w, actor, now) } };
    }
  }
}

function describeEvent(event: LedgerEvent): string {
  return JSON.stringify({ kind: event.kind, actor: event.actor, values: event.values }, (_k, v: unknown) =>
    typeof v === "bigint" ? `${v}n` : v,
  );
}

// ------------------------------------------------------------------------------------------------------------------
// One step: two mirror verdicts, the contract's outcome, and the comparison
// ------------------------------------------------------------------------------------------------------------------

/** The batch ids the rules can read for `event`, before following parents. */
function referencedIds(event: LedgerEvent): Bytes32[] {
  const ids: Bytes32[] = [];
  const tryId = (g: string, lot: string) => {
    try {
      ids.push(batchIdOf(g, lot));
    } catch {
      // A lot ethers cannot encode is refused before any batch is read.
    }
  };
  switch (event.kind) {
    case Kind.Registered:
      tryId(event.values.gtin, event.values.lot);
      break;
    case Kind.Split:
      ids.push(event.values.batchId);
      for (const c of event.values.children) tryId(c.gtin, c.lot);
      break;
    case Kind.Merged:
      ids.push(...event.values.parents);
      tryId(event.values.gtin, event.values.lot);
      break;
    case Kind.Observed:
      break;
    default:
      ids.push(event.values.batchId);
  }
  return ids;
}

/** A LedgerView of the chain as of now, read through the contract's views; asks nothing it was not given. */
async function chainView(w: World, event: LedgerEvent): Promise<LedgerView> {
  const batches = new Map<string, LedgerBatch | undefined>();
  const queue = referencedIds(event);
  while (queue.length > 0) {
    const id = queue.pop()!;
    if (batches.has(id.toLowerCase())) continue;
    const b = fromChain(await w.ledger.getBatch(id));
    batches.set(id.toLowerCase(), b);
    if (b !== undefined) queue.push(...b.parents);
  }
  const nonce = event.values.nonce;
  const spent = await w.ledger.nonceUsed(event.actor, nonce);
  return {
    batch(batchId) {
      const k = batchId.toLowerCase();
      if (!batches.has(k)) throw new Error(`the mirror read batch ${batchId}, which the event cannot reach`);
      return batches.get(k);
    },
    hasRole: (role, account) => snapshotRole(w.roles, role, account),
    isRetail: (account) => snapshotRetail(w.retail, account),
    nonceUsed(actor, n) {
      if (actor.toLowerCase() !== event.actor.toLowerCase() || n !== nonce) {
        throw new Error(`the mirror asked about nonce ${n} of ${actor}, not the event's`);
      }
      return spent;
    },
  };
}

async function send(w: World, event: LedgerEvent, now: bigint): Promise<Outcome> {
  const signer = w.actors.find((a) => a.address === event.actor);
  if (signer === undefined) throw new Error(`no signer for ${event.actor}`);
  const fn = w.ledger.connect(signer).getFunction(ON_CHAIN[event.kind as OnChainKind].method);
  await at(w, now);
  try {
    const tx = await fn(event.values, event.actor, "0x");
    const receipt = await tx.wait();
    const block = await ethers.provider.getBlock(receipt!.blockNumber);
    expect(BigInt(block!.timestamp)).to.equal(now, "the step was mined at the block time the mirror was given");
    return { mined: true };
  } catch (e) {
    const data = revertData(e);
    if (data === undefined) throw e;
    const parsed = w.ledger.interface.parseError(data);
    if (parsed === null) throw new Error(`undecodable revert ${data}`, { cause: e });
    return { mined: false, rule: parsed.name, args: [...parsed.args] };
  }
}

function revertData(e: unknown): string | undefined {
  for (let x: unknown = e, depth = 0; x !== null && typeof x === "object" && depth < 6; depth++) {
    const o = x as { data?: unknown; error?: unknown; info?: { error?: unknown }; cause?: unknown };
    if (typeof o.data === "string" && o.data.startsWith("0x") && o.data.length >= 10) return o.data;
    x = o.error ?? o.info?.error ?? o.cause;
  }
  return undefined;
}

function count(kind: OnChainKind, verdict: Verdict): void {
  tally.steps++;
  const name = ON_CHAIN[kind].event;
  const k = tally.byKind.get(name) ?? { accepted: 0, refused: 0 };
  if (verdict.ok) {
    tally.accepted++;
    k.accepted++;
  } else {
    k.refused++;
    tally.byRule.set(verdict.rule, (tally.byRule.get(verdict.rule) ?? 0) + 1);
  }
  tally.byKind.set(name, k);
}

async function checkStep(w: World, event: LedgerEvent, now: bigint): Promise<Verdict> {
  const fromChainView = checkEvent(await chainView(w, event), event, now);
  const fromOverlay = checkEvent(w.overlay, event, now);
  const outcome = await send(w, event, now);
  count(event.kind as OnChainKind, fromChainView);
  if (event.kind === Kind.Merged && outcome.mined) {
    const child = batchIdOf(event.values.gtin, event.values.lot);
    if (event.values.parents.includes(child)) tally.selfParented++;
  }
  if (process.env.RULES_TRACE) console.log(`        ${ON_CHAIN[event.kind as OnChainKind].event} ${fromChainView.ok ? "ok" : fromChainView.message}`);

  for (const [name, verdict] of [["chain view", fromChainView], ["overlay", fromOverlay]] as const) {
    const said = verdict.ok ? "accepted" : `refused (${verdict.rule}: ${verdict.message})`;
    const did = outcome.mined ? "mined" : `reverted with ${outcome.rule}`;
    expect(verdict.ok, `mirror over the ${name} ${said}, contract ${did}`).to.equal(outcome.mined);
    if (!verdict.ok && !outcome.mined) {
      expect(verdict.rule, `the ${name} mirror's rule`).to.equal(outcome.rule);
      expect(normaliseArgs(verdict.args), `the ${name} mirror's ${verdict.rule} arguments`).to.deep.equal(normaliseArgs(outcome.args));
    }
  }
  if (!fromChainView.ok || !fromOverlay.ok) return fromChainView;

  expect(normaliseEffects(fromOverlay.effects)).to.deep.equal(normaliseEffects(fromChainView.effects), "both views give the same effects");
  for (const effect of fromChainView.effects) await expectOnChain(w, effect);
  w.overlay.apply(fromOverlay.effects);
  for (const effect of fromChainView.effects) {
    if (effect.type === "batch" && !w.ids.some((id) => id.toLowerCase() === effect.batchId.toLowerCase())) w.ids.push(effect.batchId);
  }
  // The recall walk is evaluated after the effects land: isRecalled of an effect's batch.
  for (const effect of fromChainView.effects) if (effect.type === "batch") await expectRecallAgrees(w, effect.batchId);
  return fromChainView;
}

async function expectOnChain(w: World, effect: BatchEffect): Promise<void> {
  if (effect.type === "nonce") {
    expect(await w.ledger.nonceUsed(effect.actor, effect.nonce), `nonce ${effect.nonce} of ${effect.actor} spent`).to.equal(true);
    return;
  }
  const onChain = fromChain(await w.ledger.getBatch(effect.batchId));
  expect(normaliseState(onChain), `state of ${effect.batchId}`).to.deep.equal(normaliseState(effect.state));
  expect(await w.ledger.headOf(effect.batchId), `head of ${effect.batchId}`).to.equal(effect.state.head);
}

async function expectRecallAgrees(w: World, batchId: Bytes32): Promise<void> {
  let mirror: boolean | "reverts";
  try {
    mirror = recalledAncestor(w.overlay, batchId) !== undefined;
  } catch (e) {
    if (!(e instanceof RecallWalkError)) throw e;
    mirror = "reverts";
  }
  let chain: boolean | "reverts";
  try {
    chain = await w.ledger.isRecalled(batchId);
  } catch {
    chain = "reverts";
  }
  expect(mirror, `isRecalled(${batchId})`).to.equal(chain);
}

async function compareAll(w: World, where: string): Promise<void> {
  for (const id of w.ids) {
    const onChain = fromChain(await w.ledger.getBatch(id));
    expect(normaliseState(w.overlay.batch(id)), `${where}: overlay state of ${id}`).to.deep.equal(normaliseState(onChain));
    await expectRecallAgrees(w, id);
  }
}

function normaliseState(b: LedgerBatch | undefined) {
  if (b === undefined) return undefined;
  return {
    ...b,
    registrant: b.registrant.toLowerCase(),
    custodian: b.custodian.toLowerCase(),
    offerTo: b.offerTo?.toLowerCase(),
    parents: b.parents.map((p) => p.toLowerCase()),
    head: b.head.toLowerCase(),
  };
}

function normaliseEffects(effects: readonly BatchEffect[]) {
  return effects.map((e) =>
    e.type === "nonce"
      ? { ...e, actor: e.actor.toLowerCase() }
      : { ...e, batchId: e.batchId.toLowerCase(), state: normaliseState(e.state) },
  );
}
