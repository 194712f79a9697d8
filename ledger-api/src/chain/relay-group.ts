/**
 * The relay's groups (chain/relay.ts), as data: encoding several lifecycle calls into one
 * `ProvenanceLedger.relayGroup(bytes[] calls)`, reading its simulated `results`, and reading a mined group's receipt
 * into one outcome per call.
 *
 * What the contract promises and this module relies on (ProvenanceLedger.sol, "Groups"): each call runs as if sent
 * alone, in order; a call refused by a rule leaves no effect, emits `GroupCallRefused(index, reason)` with the error
 * a single call would have reverted with, and spends no nonce of its actor; every call that succeeds emits its
 * lifecycle event with its `eventHash`. So a mined group's receipt decides every call it carried: its event, or its
 * refusal at its position. A call with neither is not decided by the receipt (it cannot happen with this contract;
 * the relay then sends the event again, and the actor's nonce stops a second copy).
 */
import { Interface, Transaction } from "ethers";
import type { EventFragment, Log, Provider } from "ethers";
import { decodeRevert, type DecodedError } from "./transactions.ts";

/** The ledger function that relays a group. */
export const GROUP_METHOD = "relayGroup";

/** One call of a group as the relay prepared it. */
export interface GroupCall {
  /** The relay row (log index) it records. */
  readonly index: number;
  /** The ABI-encoded lifecycle call, exactly as it would be sent alone. */
  readonly data: string;
  /** The event the call emits when recorded, and its EIP-712 digest (lower-case). */
  readonly event: string;
  readonly eventDigest: string;
}

/** What eth_call of a group says about one call: recorded, or refused with the error a single call would raise. */
export type SimulatedCall = { readonly recorded: true } | { readonly recorded: false; readonly refusal: DecodedError };

/** The outcome of one call of a mined group, read from its receipt. */
export type GroupCallOutcome =
  | { readonly index: number; readonly outcome: "recorded" }
  | { readonly index: number; readonly outcome: "refused"; readonly refusal: DecodedError; readonly position: number }
  | { readonly index: number; readonly outcome: "undecided" };

export function encodeGroup(iface: Interface, calls: readonly Pick<GroupCall, "data">[]): string {
  return iface.encodeFunctionData(GROUP_METHOD, [calls.map((c) => c.data)]);
}

/** The calls a signed relayGroup transaction carries, lower-case hex, in order. */
export function callsOfGroupTx(iface: Interface, rawTx: string): string[] {
  const data = Transaction.from(rawTx).data;
  const [calls] = iface.decodeFunctionData(GROUP_METHOD, data) as unknown as [readonly string[]];
  return calls.map((c) => c.toLowerCase());
}

/**
 * A refusal's reason bytes as an error: a custom error of the ledger (with its arguments), Error(string) or Panic;
 * anything else is named `UndecodedRefusal` with the bytes, so the row still says what the contract returned.
 */
export function refusalOf(iface: Interface, reason: string): DecodedError {
  return decodeRevert(iface, reason) ?? { name: "UndecodedRefusal", text: `UndecodedRefusal(${reason.toLowerCase()})` };
}

/** Reads eth_call's return value of relayGroup into one verdict per call, in order. */
export function simulatedCalls(iface: Interface, returned: string, expected: number): SimulatedCall[] {
  const [results] = iface.decodeFunctionResult(GROUP_METHOD, returned) as unknown as [
    readonly { readonly success: boolean; readonly returnData: string }[],
  ];
  if (results.length !== expected) throw new Error(`relayGroup simulated ${results.length} calls, ${expected} were sent`);
  return results.map((r) => (r.success ? { recorded: true } : { recorded: false, refusal: refusalOf(iface, r.returnData) }));
}

/**
 * One outcome per call of a group mined successfully (status 1): recorded when the receipt holds its event with its
 * event hash, refused when it holds `GroupCallRefused` at the call's position in `sentCalls` (the calls the
 * transaction carried, callsOfGroupTx), undecided otherwise.
 */
export function groupOutcomes(
  iface: Interface,
  ledger: string,
  sentCalls: readonly string[],
  calls: readonly GroupCall[],
  logs: readonly Log[],
): GroupCallOutcome[] {
  const recorded = new Set<string>();
  const refused = new Map<number, string>();
  // By topic, computed once: ethers' parseLog hashes every event's signature again for each log it is given.
  const events = new Map<string, EventFragment>();
  iface.forEachEvent((fragment) => {
    if (fragment.name === "GroupCallRefused" || fragment.inputs.some((input) => input.name === "eventHash")) events.set(fragment.topicHash, fragment);
  });
  for (const log of logs) {
    const fragment = events.get(log.topics[0] ?? "");
    if (fragment === undefined || log.address.toLowerCase() !== ledger.toLowerCase()) continue;
    let args;
    try {
      args = iface.decodeEventLog(fragment, log.data, log.topics);
    } catch {
      continue;
    }
    if (fragment.name === "GroupCallRefused") refused.set(Number(args.getValue("index")), String(args.getValue("reason")));
    else recorded.add(`${fragment.name}:${String(args.getValue("eventHash")).toLowerCase()}`);
  }
  const positions = new Map<string, number>();
  sentCalls.forEach((data, i) => {
    if (!positions.has(data)) positions.set(data, i);
  });
  return calls.map((call) => {
    if (recorded.has(`${call.event}:${call.eventDigest}`)) return { index: call.index, outcome: "recorded" };
    const position = positions.get(call.data.toLowerCase());
    const reason = position === undefined ? undefined : refused.get(position);
    if (position !== undefined && reason !== undefined) {
      return { index: call.index, outcome: "refused", refusal: refusalOf(iface, reason), position };
    }
    return { index: call.index, outcome: "undecided" };
  });
}

/**
 * The gas `call` uses in one execution, from eth_createAccessList (which every major node answers, Hardhat's
 * in-process chain excepted): "unsupported" when the node does not offer it, undefined when it could not say (the
 * call reverted, say). eth_estimateGas answers the same question by a binary search over many executions, which for
 * a group of fifty lifecycle calls costs an order of magnitude more of the node's time than the group's eth_call.
 * The figure is after gas refunds and without the 63/64 reserve of the group's inner calls: the caller adds headroom
 * and checks it with an eth_call at that limit before trusting it.
 */
export async function gasUsedOnce(
  provider: Provider,
  call: { readonly from: string; readonly to: string; readonly data: string },
): Promise<bigint | "unsupported" | undefined> {
  if (!("send" in provider) || typeof provider.send !== "function") return "unsupported";
  let answer: unknown;
  try {
    answer = await (provider.send as (method: string, params: unknown[]) => Promise<unknown>)("eth_createAccessList", [call, "latest"]);
  } catch (e) {
    const text = `${(e as { error?: { message?: string } }).error?.message ?? ""} ${(e as Error).message ?? ""}`;
    const code = (e as { error?: { code?: number } }).error?.code;
    if (code === -32601 || /not supported|does not exist|not available|method not found|unknown method/i.test(text)) return "unsupported";
    return undefined;
  }
  const { gasUsed, error } = (answer ?? {}) as { gasUsed?: string; error?: string };
  return error === undefined && typeof gasUsed === "string" ? BigInt(gasUsed) : undefined;
}
