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
import type { Log } from "ethers";
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
  for (const log of logs) {
    if (log.address.toLowerCase() !== ledger.toLowerCase()) continue;
    let parsed;
    try {
      parsed = iface.parseLog(log);
    } catch {
      continue;
    }
    if (parsed === null) continue;
    if (parsed.name === "GroupCallRefused") {
      refused.set(Number(parsed.args.getValue("index")), String(parsed.args.getValue("reason")));
    } else if (parsed.fragment.inputs.some((input) => input.name === "eventHash")) {
      recorded.add(`${parsed.name}:${String(parsed.args.getValue("eventHash")).toLowerCase()}`);
    }
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
