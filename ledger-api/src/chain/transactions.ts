/**
 * Helpers shared by the chain writers (anchorer.ts, relay.ts): the logger they take, signing a transaction into raw
 * bytes that are stored before they are broadcast, broadcasting those bytes idempotently, confirmations, and decoding
 * a contract's custom error from whatever error object the provider threw.
 */
import { Interface, Transaction, isHexString, keccak256 } from "ethers";
import type { Contract, FeeData, InterfaceAbi, Provider, Signer, TransactionRequest } from "ethers";

/** The subset of a pino / Fastify logger the chain writers use. */
export interface ChainLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export const silentLogger: ChainLogger = Object.freeze({
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
});

/** Milliseconds since the epoch; injectable so tests control "how old is the oldest unanchored entry". */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = Object.freeze({ now: () => Date.now() });

/** A deployed contract the writer talks to. */
export interface ContractRef {
  readonly address: string;
  readonly abi: InterfaceAbi;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function providerOf(signer: Signer): Provider {
  if (signer.provider === null) throw new Error("the chain writer's signer has no provider");
  return signer.provider;
}

/** A signed transaction, as stored before it is broadcast. */
export interface SignedTx {
  readonly raw: string;
  readonly hash: string;
  readonly nonce: number;
}

/**
 * Fills in chain id, fees and (unless given) the gas limit, signs with an explicit `nonce` and returns the raw bytes.
 * Nothing is sent. The signer must hold its key locally (an ethers Wallet): a JSON-RPC signer cannot sign without
 * sending, and then the raw bytes could not be stored first. A request that already names its chain id, gas limit
 * and EIP-1559 fees is signed as it is, without asking the node anything.
 */
export async function signTx(signer: Signer, request: TransactionRequest, nonce: number): Promise<SignedTx> {
  const complete =
    request.chainId != null && request.gasLimit != null && request.maxFeePerGas != null && request.maxPriorityFeePerGas != null;
  if (complete) {
    // Built here with `nonce`, so the bytes carry it; a typed transaction's hash is the keccak of its bytes.
    const raw = await signer.signTransaction({ ...request, type: 2, nonce });
    return { raw, hash: keccak256(raw).toLowerCase(), nonce };
  }
  const populated = await signer.populateTransaction({ ...request, nonce });
  const raw = await signer.signTransaction(populated);
  const tx = Transaction.from(raw);
  if (tx.hash === null || tx.nonce !== nonce) throw new Error("signed transaction lost its hash or nonce");
  return { raw, hash: tx.hash.toLowerCase(), nonce };
}

/**
 * The transaction `raw` again (same nonce, call and gas limit) at fees raised by 12.5%, or to the network's current
 * fees when those are higher: nodes replace a pending transaction only for at least 10% more on every fee field.
 */
export async function bumpFees(signer: Signer, raw: string, current: FeeData): Promise<SignedTx> {
  const old = Transaction.from(raw);
  const up = (x: bigint): bigint => x + x / 8n + 1n;
  const atLeast = (x: bigint, floor: bigint | null): bigint => (floor !== null && floor > x ? floor : x);
  const next: TransactionRequest = {
    type: old.type,
    chainId: old.chainId,
    nonce: old.nonce,
    to: old.to,
    data: old.data,
    value: old.value,
    gasLimit: old.gasLimit,
    ...(old.accessList ? { accessList: old.accessList } : {}),
  };
  if (old.maxFeePerGas !== null && old.maxPriorityFeePerGas !== null) {
    const tip = atLeast(up(old.maxPriorityFeePerGas), current.maxPriorityFeePerGas);
    const cap = atLeast(up(old.maxFeePerGas), current.maxFeePerGas);
    next.maxPriorityFeePerGas = tip;
    next.maxFeePerGas = cap > tip ? cap : tip;
  } else if (old.gasPrice !== null) {
    next.gasPrice = atLeast(up(old.gasPrice), current.gasPrice);
  } else {
    throw new Error("the transaction carries no fee fields to raise");
  }
  const signed = Transaction.from(await signer.signTransaction(next));
  if (signed.hash === null || signed.nonce !== old.nonce) throw new Error("the re-signed transaction lost its hash or nonce");
  return { raw: signed.serialized, hash: signed.hash.toLowerCase(), nonce: signed.nonce };
}

/** When a transaction counts as stuck, and how often it may be replaced. */
export interface FeeBumpPolicy {
  /** Replace a transaction still pending this long (ms) after it was stored; 0: never. */
  readonly afterMs: number;
  /** Most replacements per transaction slot (an intent, a relay row) in this process. */
  readonly maxBumps: number;
}

/**
 * The relay's and the anchorer's fee bumping: when a stored transaction has been pending for `afterMs`, sign it again
 * at higher fees (bumpFees), let the caller store the new bytes, then broadcast them. The caller's settling must not
 * depend on which copy lands (both writers settle from the chain's state or events, not from a hash).
 */
export class FeeBumper {
  private readonly signer: Signer;
  private readonly policy: FeeBumpPolicy;
  private readonly clock: Clock;
  private readonly bumps = new Map<number, number>();

  constructor(signer: Signer, policy: FeeBumpPolicy, clock: Clock) {
    this.signer = signer;
    this.policy = policy;
    this.clock = clock;
  }

  /**
   * Replaces `raw` (stored at `storedAt`, in slot `slot`) if it is stuck: `store` must persist the new transaction
   * before it resolves, since it is broadcast right after. Returns what was done, or undefined when it is not time.
   */
  async bumpIfStuck(
    slot: number,
    raw: string,
    storedAt: number,
    store: (next: SignedTx) => Promise<void>,
  ): Promise<{ readonly next: SignedTx; readonly bump: number; readonly error: Error | undefined } | undefined> {
    const done = this.bumps.get(slot) ?? 0;
    const { afterMs, maxBumps } = this.policy;
    if (afterMs === 0 || done >= maxBumps || this.clock.now() - storedAt < afterMs) return undefined;
    const provider = providerOf(this.signer);
    const next = await bumpFees(this.signer, raw, await provider.getFeeData());
    await store(next);
    this.bumps.set(slot, done + 1);
    return { next, bump: done + 1, error: await broadcast(provider, next.raw) };
  }

  /** Forgets a settled slot's count. */
  forget(slot: number): void {
    this.bumps.delete(slot);
  }
}

/**
 * Broadcasts stored raw bytes. Errors are returned, not thrown: "already known" / "nonce too low" just mean the node
 * has (or mined) a transaction with that nonce, and the caller's next settle pass finds out which from the chain.
 */
export async function broadcast(provider: Provider, raw: string): Promise<Error | undefined> {
  try {
    await provider.broadcastTransaction(raw);
    return undefined;
  } catch (e) {
    return e instanceof Error ? e : new Error(String(e));
  }
}

/** Blocks on top of and including `blockNumber` (1 = in the latest block). */
export function confirmationsOf(head: number, blockNumber: number): number {
  return head - blockNumber + 1;
}

/**
 * The revert data (0x selector + ABI args) inside a provider error, if any. ethers puts it at `error.data`; Hardhat
 * and JSON-RPC nodes nest it under `error`, `info.error`, `cause` or `data.data`, so search a few levels.
 */
export function revertDataOf(e: unknown, depth = 0): string | undefined {
  if (depth > 6 || typeof e !== "object" || e === null) return undefined;
  const obj = e as Record<string, unknown>;
  const data = obj.data;
  if (typeof data === "string" && isHexString(data) && data.length >= 10) return data;
  for (const key of ["data", "error", "info", "cause", "revert", "payload"]) {
    const found = revertDataOf(obj[key], depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** A decoded custom error: `name` and the text `Name(arg, ...)`. */
export interface DecodedError {
  readonly name: string;
  readonly text: string;
}

function formatArg(v: unknown): string {
  if (typeof v === "bigint" || typeof v === "number" || typeof v === "boolean") return String(v);
  if (typeof v === "string") return isHexString(v) ? v.toLowerCase() : JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(formatArg).join(", ")}]`;
  return String(v);
}

/**
 * Decodes revert data against the contract's ABI: its custom errors, plus Solidity's Error(string) and Panic(uint256).
 * Undefined when the data matches none of them.
 */
export function decodeRevert(iface: Interface, data: string): DecodedError | undefined {
  let parsed: ReturnType<Interface["parseError"]>;
  try {
    parsed = iface.parseError(data);
  } catch {
    return undefined;
  }
  if (parsed === null) return undefined;
  const args = Array.from(parsed.args as ArrayLike<unknown>, formatArg);
  return { name: parsed.name, text: `${parsed.name}(${args.join(", ")})` };
}

/** Refuses to start a chain writer whose account lacks the role it needs (`role` names the contract's constant). */
export async function assertHoldsRole(contract: Contract, role: "ANCHORER_ROLE" | "RELAYER_ROLE", account: string): Promise<void> {
  const id = (await contract.getFunction(role)()) as string;
  if (!((await contract.getFunction("hasRole")(id, account)) as boolean)) {
    throw new Error(`account ${account} lacks ${role} on ${await contract.getAddress()}`);
  }
}
