/**
 * ProvenanceLedger.relayGroup: lifecycle events on different lots relayed in one transaction. Each call is checked
 * exactly as the same call sent alone; a call refused by a rule is skipped and reported, the others land; anything
 * that is not a rule's refusal (a sender without RELAYER_ROLE, a call of another function, a call that reverts
 * without a reason) reverts the whole group.
 */
import { expect } from "chai";
import type { Interface } from "ethers";
import { Kind, batchIdOf, nextHead } from "../../ledger-api/src/protocol/typed-data.ts";
import {
  call,
  children,
  deployLedger,
  encodeRelayed,
  ethers,
  hashOf,
  networkHelpers,
  registerBatch,
  relayGroup,
  sign,
  submit,
  values,
} from "./fixtures.ts";
import type { Ledger } from "./fixtures.ts";

async function fixture() {
  const f = await networkHelpers.loadFixture(deployLedger);
  const lots = [];
  for (let i = 0; i < 3; i++) lots.push((await registerBatch(f)).batchId);
  return { f, lots };
}

/** The GroupCallRefused logs of a transaction, as [index, decoded error name, args]. */
async function refusals(f: Ledger, tx: Promise<{ hash: string }>) {
  const receipt = await ethers.provider.getTransactionReceipt((await tx).hash);
  const out: [number, string, unknown[]][] = [];
  for (const log of receipt?.logs ?? []) {
    const parsed = f.ledger.interface.parseLog(log);
    if (parsed?.name !== "GroupCallRefused") continue;
    const error = (f.ledger.interface as unknown as Interface).parseError(parsed.args.getValue("reason") as string);
    out.push([Number(parsed.args.getValue("index")), error?.name ?? "?", error ? [...error.args] : []]);
  }
  return out;
}

describe("ProvenanceLedger.relayGroup", function () {
  it("records events on different lots in one transaction, each with the event hash and head of a single call", async function () {
    const { f, lots } = await fixture();
    const [a, b, c] = lots as [string, string, string];
    const calls = [
      call(Kind.PesticideApplied, values.pesticide(a), f.producer),
      call(Kind.HandOffOffered, values.offered(b, f.wholesaler.address), f.producer),
      call(Kind.Inspected, values.inspected(c), f.inspector),
    ];
    const before = await Promise.all(lots.map((id) => f.ledger.headOf(id)));
    const tx = relayGroup(f, calls);
    const hashes = calls.map((x) => hashOf(f, x.kind as never, x.values as never));
    await expect(tx)
      .to.emit(f.ledger, "PesticideApplied")
      .withArgs(a, f.producer.address, "138261-41-3", 14n, calls[0]!.values.docHash, hashes[0], nextHead(before[0]!, hashes[0]!));
    await expect(tx)
      .to.emit(f.ledger, "HandOffOffered")
      .withArgs(b, f.producer.address, f.wholesaler.address, calls[1]!.values.docHash, hashes[1], nextHead(before[1]!, hashes[1]!));
    await expect(tx)
      .to.emit(f.ledger, "Inspected")
      .withArgs(c, f.inspector.address, true, calls[2]!.values.docHash, hashes[2], nextHead(before[2]!, hashes[2]!));
    await expect(tx).not.to.emit(f.ledger, "GroupCallRefused");
    for (const x of calls) expect(await f.ledger.nonceUsed(x.actor.address, x.values.nonce)).to.equal(true);
    expect((await f.ledger.getBatch(b)).offeredTo).to.equal(f.wholesaler.address);
  });

  it("skips a call refused by a rule, reports its index and error, and records the others", async function () {
    const { f, lots } = await fixture();
    const [a, b, c] = lots as [string, string, string];
    const refused = call(Kind.PesticideApplied, values.pesticide(b), f.producer2); // not the custodian
    const tx = relayGroup(f, [
      call(Kind.PesticideApplied, values.pesticide(a), f.producer),
      refused,
      call(Kind.Inspected, values.inspected(c), f.inspector),
    ]);
    expect(await refusals(f, tx)).to.deep.equal([[1, "NotCustodian", [b, f.producer.address, f.producer2.address]]]);
    await expect(tx).to.emit(f.ledger, "PesticideApplied");
    await expect(tx).to.emit(f.ledger, "Inspected");
    // Nothing of the refused call stays: its nonce is unspent and its lot's head unmoved, so it may be sent again.
    expect(await f.ledger.nonceUsed(f.producer2.address, refused.values.nonce)).to.equal(false);
    const [registered] = await f.ledger.queryFilter(f.ledger.filters.Registered(b));
    expect(await f.ledger.headOf(b)).to.equal(nextHead(ethers.ZeroHash, registered!.args.eventHash));
  });

  it("refuses replays: a group sent again, and an event twice in one group, are refused by NonceAlreadyUsed", async function () {
    const { f, lots } = await fixture();
    const calls = lots.map((id) => call(Kind.Inspected, values.inspected(id), f.inspector));
    await relayGroup(f, calls);
    const heads = await Promise.all(lots.map((id) => f.ledger.headOf(id)));
    const again = await refusals(f, relayGroup(f, calls));
    expect(again).to.deep.equal(calls.map((x, i) => [i, "NonceAlreadyUsed", [f.inspector.address, x.values.nonce]]));
    expect(await Promise.all(lots.map((id) => f.ledger.headOf(id)))).to.deep.equal(heads);

    const once = call(Kind.Inspected, values.inspected(lots[0]!), f.inspector);
    const twice = await refusals(f, relayGroup(f, [once, once]));
    expect(twice).to.deep.equal([[1, "NonceAlreadyUsed", [f.inspector.address, once.values.nonce]]]);
  });

  it("refuses a call whose signature is not its actor's, as a single relayed call would", async function () {
    const { f, lots } = await fixture();
    const v = values.inspected(lots[0]!);
    const signedByOutsider = call(Kind.Inspected, v, f.inspector, await sign(f.outsider, f.domain, Kind.Inspected, v));
    expect(await refusals(f, relayGroup(f, [signedByOutsider]))).to.deep.equal([
      [0, "InvalidSignature", [f.inspector.address, f.outsider.address]],
    ]);
  });

  it("runs calls in order: a later call sees an earlier one's lot, and a call after a refused one sees nothing of it", async function () {
    const { f } = await fixture();
    const r = values.registered();
    const id = batchIdOf(r.gtin, r.lot);
    const kids = children(40n, 60n);
    const badRegistration = values.registered({ quantity: 0n });
    const badId = batchIdOf(badRegistration.gtin, badRegistration.lot);
    const tx = relayGroup(f, [
      call(Kind.Registered, r, f.producer),
      call(Kind.Split, values.split(id, kids), f.producer),
      call(Kind.Registered, badRegistration, f.producer),
      call(Kind.PesticideApplied, values.pesticide(badId), f.producer),
    ]);
    expect(await refusals(f, tx)).to.deep.equal([
      [2, "ZeroQuantity", []],
      [3, "UnknownBatch", [badId]],
    ]);
    expect((await f.ledger.getBatch(id)).status).to.equal(2n); // Split
    expect((await f.ledger.getBatch(batchIdOf(kids[1]!.gtin, kids[1]!.lot))).quantity).to.equal(60n);
  });

  it("returns each call's result: a registration's new batch id, a refusal's error", async function () {
    const { f, lots } = await fixture();
    const r = values.registered();
    const data = await Promise.all([
      encodeRelayed(f, call(Kind.Registered, r, f.producer)),
      encodeRelayed(f, call(Kind.Recalled, values.recalled(lots[0]!), f.inspector)),
    ]);
    const results = await f.ledger.connect(f.relayer).relayGroup.staticCall(data);
    expect(results[0]!.success).to.equal(true);
    expect(results[0]!.returnData).to.equal(ethers.AbiCoder.defaultAbiCoder().encode(["bytes32"], [batchIdOf(r.gtin, r.lot)]));
    expect(results[1]!.success).to.equal(false);
    expect((f.ledger.interface as unknown as Interface).parseError(results[1]!.returnData)?.name).to.equal(
      "AccessControlUnauthorizedAccount",
    );
  });

  it("requires RELAYER_ROLE of its sender, as a single relayed call does, and reverts whole without it", async function () {
    const { f, lots } = await fixture();
    const calls = [call(Kind.Inspected, values.inspected(lots[0]!), f.inspector)];
    await expect(relayGroup(f, calls, f.outsider))
      .to.be.revertedWithCustomError(f.ledger, "AccessControlUnauthorizedAccount")
      .withArgs(f.outsider.address, ethers.id("RELAYER_ROLE"));
    await expect(submit(f, Kind.Inspected, calls[0]!.values as never, f.inspector, { relayed: true, sender: f.outsider }))
      .to.be.revertedWithCustomError(f.ledger, "AccessControlUnauthorizedAccount")
      .withArgs(f.outsider.address, ethers.id("RELAYER_ROLE"));
    // Not even an actor may group its own direct calls: grouping is the relayer's.
    const direct = (f.ledger.interface as unknown as Interface).encodeFunctionData("recordInspection", [
      calls[0]!.values,
      f.inspector.address,
      "0x",
    ]);
    await expect(f.ledger.connect(f.inspector).relayGroup([direct]))
      .to.be.revertedWithCustomError(f.ledger, "AccessControlUnauthorizedAccount")
      .withArgs(f.inspector.address, ethers.id("RELAYER_ROLE"));
    expect(await f.ledger.nonceUsed(f.inspector.address, calls[0]!.values.nonce)).to.equal(false);
  });

  it("reverts whole on a call of any function but the ten lifecycle ones", async function () {
    const { f, lots } = await fixture();
    const ok = await encodeRelayed(f, call(Kind.Inspected, values.inspected(lots[0]!), f.inspector));
    const iface = f.ledger.interface as unknown as Interface;
    const grant = iface.encodeFunctionData("grantRole", [ethers.id("RELAYER_ROLE"), f.outsider.address]);
    await expect(f.ledger.connect(f.relayer).relayGroup([ok, grant]))
      .to.be.revertedWithCustomError(f.ledger, "NotLifecycleCall")
      .withArgs(1, grant.slice(0, 10));
    const nested = iface.encodeFunctionData("relayGroup", [[ok]]);
    await expect(f.ledger.connect(f.relayer).relayGroup([nested]))
      .to.be.revertedWithCustomError(f.ledger, "NotLifecycleCall")
      .withArgs(0, nested.slice(0, 10));
    await expect(f.ledger.connect(f.relayer).relayGroup([ok, "0x12"]))
      .to.be.revertedWithCustomError(f.ledger, "NotLifecycleCall")
      .withArgs(1, "0x12000000");
  });

  it("reverts whole when a call reverts without a reason, as calldata that does not decode does", async function () {
    const { f, lots } = await fixture();
    const v = values.inspected(lots[0]!);
    const ok = await encodeRelayed(f, call(Kind.Inspected, v, f.inspector));
    const truncated = (await encodeRelayed(f, call(Kind.Inspected, values.inspected(lots[1]!), f.inspector))).slice(0, 74);
    await expect(f.ledger.connect(f.relayer).relayGroup([ok, truncated]))
      .to.be.revertedWithCustomError(f.ledger, "GroupCallWithoutReason")
      .withArgs(1);
    expect(await f.ledger.nonceUsed(f.inspector.address, v.nonce)).to.equal(false);
  });

  it("reverts whole when a call runs out of gas, so a gas estimate never settles on a limit that drops a call", async function () {
    const { f, lots } = await fixture();
    // A split into 32 lots needs millions of gas: when it runs out, the group still holds 1/64 of that, enough to
    // record the other calls and succeed if an empty revert were taken for a refusal.
    const big = await registerBatch(f, { quantity: 32n });
    const data = await Promise.all([
      encodeRelayed(f, call(Kind.Inspected, values.inspected(lots[0]!), f.inspector)),
      encodeRelayed(f, call(Kind.Split, values.split(big.batchId, children(...Array.from({ length: 32 }, () => 1n))), f.producer)),
      encodeRelayed(f, call(Kind.Inspected, values.inspected(lots[1]!), f.inspector)),
    ]);
    const group = f.ledger.connect(f.relayer).relayGroup;
    const estimate = await group.estimateGas(data);
    await expect(group.staticCall(data, { gasLimit: estimate - 30_000n }))
      .to.be.revertedWithCustomError(f.ledger, "GroupCallWithoutReason")
      .withArgs(1);
    const tx = group(data, { gasLimit: estimate });
    await expect(tx).not.to.emit(f.ledger, "GroupCallRefused");
    await expect(tx).to.emit(f.ledger, "Split");
  });
});
