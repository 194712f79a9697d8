/**
 * What every lifecycle function of ProvenanceLedger guarantees about authentication, written once and run for
 * every on-chain kind: a direct call and a relayed call record the same EIP-712 event hash and extend the batch's
 * head with it; nonces, deadlines, domains and signatures are checked the same way everywhere.
 */
import { expect } from "chai";
import { anyUint, anyValue } from "@nomicfoundation/hardhat-ethers-chai-matchers/withArgs";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import { HDNodeWallet } from "ethers";
import { typedDataFor, nextHead, ledgerDomain } from "../../ledger-api/src/protocol/typed-data.ts";
import { Eip712Hasher } from "../../ledger-api/src/protocol/eip712.ts";
import { DEV_MNEMONIC } from "../../ledger-api/src/chain/local-chain.ts";
import type { Bytes32, ValuesOf } from "../../ledger-api/src/protocol/typed-data.ts";
import { ON_CHAIN, deployLedger, ethers, hashOf, networkHelpers, sign, submit } from "./fixtures.ts";
import type { Ledger, OnChainKind } from "./fixtures.ts";

/** Overrides of the common fields a behaviour needs to control. */
export interface CommonOverrides {
  readonly deadline?: bigint;
}

/** A ready-to-submit event of one kind: the batch it extends is in the state the kind needs. */
export interface Scenario<K extends OnChainKind> {
  readonly actor: HardhatEthersSigner;
  readonly values: ValuesOf[K];
  /** The batch whose head the emitted `head` reports (the new batch for Registered and Merged). */
  readonly batchId: Bytes32;
}

export type Prepare<K extends OnChainKind> = (f: Ledger, over: CommonOverrides) => Promise<Scenario<K>>;

const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

export function shouldBehaveLikeLifecycleCall<K extends OnChainKind>(kind: K, prepare: Prepare<K>): void {
  const { event } = ON_CHAIN[kind];

  async function setUp(over: CommonOverrides = {}) {
    const f = await networkHelpers.loadFixture(deployLedger);
    const s = await prepare(f, over);
    return { f, ...s };
  }

  async function expectRecorded(f: Ledger, s: Scenario<K>, before: Bytes32, tx: Promise<unknown>) {
    const eh = hashOf(f, kind, s.values);
    const head = nextHead(before, eh);
    await expect(tx).to.emit(f.ledger, event);
    const receipt = await ethers.provider.getTransactionReceipt(((await tx) as { hash: string }).hash);
    const logs = (receipt?.logs ?? [])
      .map((l) => f.ledger.interface.parseLog(l))
      .filter((l) => l !== null && l.name === event);
    expect(logs).to.have.length(1);
    const args = logs[0]!.args;
    expect(args.getValue("batchId")).to.equal(s.batchId);
    expect(args.getValue("actor")).to.equal(s.actor.address);
    expect(args.getValue("docHash")).to.equal(s.values.docHash);
    expect(args.getValue("eventHash")).to.equal(eh);
    expect(args.getValue("head")).to.equal(head);
    expect(await f.ledger.headOf(s.batchId)).to.equal(head);
    expect(await f.ledger.nonceUsed(s.actor.address, s.values.nonce)).to.equal(true);
  }

  describe(`${event}: direct and relayed submission`, function () {
    it("records the event when the actor calls directly, extending the batch head by its EIP-712 event hash", async function () {
      const { f, ...s } = await setUp();
      const before = await f.ledger.headOf(s.batchId);
      await expectRecorded(f, s, before, submit(f, kind, s.values, s.actor));
    });

    it("records the same event hash and head when a relayer submits the actor's signature", async function () {
      const { f, ...s } = await setUp();
      const before = await f.ledger.headOf(s.batchId);
      await expectRecorded(f, s, before, submit(f, kind, s.values, s.actor, { relayed: true }));
    });

    it("refuses to replay a direct event: the actor's nonce is spent", async function () {
      const { f, ...s } = await setUp();
      await submit(f, kind, s.values, s.actor);
      await expect(submit(f, kind, s.values, s.actor))
        .to.be.revertedWithCustomError(f.ledger, "NonceAlreadyUsed")
        .withArgs(s.actor.address, s.values.nonce);
    });

    it("refuses to replay a relayed signature", async function () {
      const { f, ...s } = await setUp();
      const signature = await sign(s.actor, f.domain, kind, s.values);
      await submit(f, kind, s.values, s.actor, { signature });
      await expect(submit(f, kind, s.values, s.actor, { signature }))
        .to.be.revertedWithCustomError(f.ledger, "NonceAlreadyUsed")
        .withArgs(s.actor.address, s.values.nonce);
    });

    it("refuses an event whose deadline has passed, direct or relayed", async function () {
      const deadline = BigInt(await networkHelpers.time.latest()) + 600n;
      const { f, ...s } = await setUp({ deadline });
      await networkHelpers.time.increaseTo(deadline + 1n);
      await expect(submit(f, kind, s.values, s.actor))
        .to.be.revertedWithCustomError(f.ledger, "DeadlinePassed")
        .withArgs(s.values.deadline, anyUint);
      await expect(submit(f, kind, s.values, s.actor, { relayed: true }))
        .to.be.revertedWithCustomError(f.ledger, "DeadlinePassed")
        .withArgs(s.values.deadline, anyUint);
    });

    it("refuses a signature made for another chain id", async function () {
      const { f, ...s } = await setUp();
      const other = ledgerDomain(f.chainId + 1n, await f.ledger.getAddress());
      const signature = await sign(s.actor, other, kind, s.values);
      await expect(submit(f, kind, s.values, s.actor, { signature }))
        .to.be.revertedWithCustomError(f.ledger, "InvalidSignature")
        .withArgs(s.actor.address, anyValue);
    });

    it("refuses a signature made for another verifying contract", async function () {
      const { f, ...s } = await setUp();
      const other = ledgerDomain(f.chainId, ethers.Wallet.createRandom().address);
      const signature = await sign(s.actor, other, kind, s.values);
      await expect(submit(f, kind, s.values, s.actor, { signature }))
        .to.be.revertedWithCustomError(f.ledger, "InvalidSignature")
        .withArgs(s.actor.address, anyValue);
    });

    it("refuses a malleable high-s signature even though it recovers to the actor", async function () {
      const { f, ...s } = await setUp();
      const sig = ethers.Signature.from(await sign(s.actor, f.domain, kind, s.values));
      const highS = ethers.toBeHex(SECP256K1_N - BigInt(sig.s), 32);
      const flipped = ethers.concat([sig.r, highS, new Uint8Array([sig.v === 27 ? 28 : 27])]);
      await expect(submit(f, kind, s.values, s.actor, { signature: flipped }))
        .to.be.revertedWithCustomError(f.ledger, "InvalidSignature")
        .withArgs(s.actor.address, ethers.ZeroAddress);
    });

    it("refuses a malformed (64-byte) signature", async function () {
      const { f, ...s } = await setUp();
      const signature = ethers.dataSlice(await sign(s.actor, f.domain, kind, s.values), 0, 64);
      await expect(submit(f, kind, s.values, s.actor, { signature }))
        .to.be.revertedWithCustomError(f.ledger, "InvalidSignature")
        .withArgs(s.actor.address, ethers.ZeroAddress);
    });

    it("refuses a signature that recovers to someone other than the named actor", async function () {
      const { f, ...s } = await setUp();
      const signature = await sign(f.outsider, f.domain, kind, s.values);
      await expect(submit(f, kind, s.values, s.actor, { signature }))
        .to.be.revertedWithCustomError(f.ledger, "InvalidSignature")
        .withArgs(s.actor.address, f.outsider.address);
    });

    it("refuses the zero address as actor, whatever the signature", async function () {
      const { f, ...s } = await setUp();
      const signature = await sign(s.actor, f.domain, kind, s.values);
      await expect(submit(f, kind, s.values, s.actor, { signature, actor: ethers.ZeroAddress }))
        .to.be.revertedWithCustomError(f.ledger, "InvalidSignature")
        .withArgs(ethers.ZeroAddress, s.actor.address);
    });

    it("refuses a relayed call from an account without RELAYER_ROLE", async function () {
      const { f, ...s } = await setUp();
      await expect(submit(f, kind, s.values, s.actor, { relayed: true, sender: f.outsider }))
        .to.be.revertedWithCustomError(f.ledger, "AccessControlUnauthorizedAccount")
        .withArgs(f.outsider.address, ethers.id("RELAYER_ROLE"));
    });

    it("refuses a direct call that names an actor other than the sender", async function () {
      const { f, ...s } = await setUp();
      await expect(submit(f, kind, s.values, s.actor, { sender: f.outsider }))
        .to.be.revertedWithCustomError(f.ledger, "ActorNotSender")
        .withArgs(s.actor.address, f.outsider.address);
    });

    it("signs exactly the struct the contract hashes (typed data from typed-data.ts)", async function () {
      const { f, ...s } = await setUp();
      const td = typedDataFor(kind, s.values, f.domain);
      expect(ethers.TypedDataEncoder.hash(td.domain, td.types, td.value as unknown as Record<string, unknown>)).to.equal(
        hashOf(f, kind, s.values),
      );
      const signature = await sign(s.actor, f.domain, kind, s.values);
      expect(ethers.verifyTypedData(td.domain, td.types, td.value as unknown as Record<string, unknown>, signature)).to.equal(
        s.actor.address,
      );
    });

    it("accepts a relayed signature made over the fast encoder's digest (protocol/eip712.ts is the contract's hash)", async function () {
      const { f, ...s } = await setUp();
      const hasher = new Eip712Hasher(f.domain);
      expect(hasher.domainSeparator).to.equal(await f.ledger.domainSeparator());
      const digest = hasher.hash(kind, s.values);
      // The Hardhat accounts are the dev mnemonic's first keys: find the actor's to sign the raw digest with it.
      const key = Array.from({ length: 20 }, (_, i) => HDNodeWallet.fromPhrase(DEV_MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`)).find(
        (w) => w.address === s.actor.address,
      );
      if (key === undefined) throw new Error(`no dev key for ${s.actor.address}`);
      const signature = key.signingKey.sign(digest).serialized;
      await expectRecorded(f, s, await f.ledger.headOf(s.batchId), submit(f, kind, s.values, s.actor, { signature }));
    });
  });
}
