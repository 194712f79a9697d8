/**
 * Reads a V8 .cpuprofile (node --cpu-prof): the share of the sampled time each function took itself and with what it
 * called. Samples are wall-clock, so on a shared machine a thread's preemption is charged to whatever it was running;
 * compare shares within one profile, and take CPU time per event from the threads' own counters (profile.ts).
 */
import { readFileSync } from "node:fs";

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface FunctionTime {
  /** `name file:line`, the file relative to the project (or node_modules/...). */
  readonly name: string;
  readonly ms: number;
  readonly share: number;
}

export interface ProfileSummary {
  readonly sampledMs: number;
  /** Time the thread was idle (waiting in its event loop). */
  readonly idleShare: number;
  readonly self: readonly FunctionTime[];
  /** Self time plus callees', per function (a recursive function counted once per sample). */
  readonly inclusive: readonly FunctionTime[];
}

function label(node: ProfileNode): string {
  const url = node.callFrame.url.replace(/^.*\/(ledger-api|node_modules|bench)\//, "$1/");
  return `${node.callFrame.functionName || "(anonymous)"} ${url}${url ? `:${node.callFrame.lineNumber + 1}` : ""}`.trim();
}

export function summarizeProfile(file: string, top = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? 0)));
  let total = 0;
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, us] of selfUs) {
    total += us;
    const node = byId.get(id)!;
    self.set(label(node), (self.get(label(node)) ?? 0) + us);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const name = label(byId.get(at)!);
      if (seen.has(name)) continue;
      seen.add(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + us);
    }
  }
  const rank = (m: Map<string, number>, keep: (name: string) => boolean): FunctionTime[] =>
    [...m]
      .filter(([name]) => keep(name))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, ms: us / 1000, share: us / Math.max(total, 1) }));
  const idle = self.get("(idle)") ?? 0;
  return {
    sampledMs: total / 1000,
    idleShare: idle / Math.max(total, 1),
    self: rank(self, (name) => name !== "(idle)"),
    // Our code's functions: the entry points of node internals and (root) would top the list and say nothing.
    inclusive: rank(inclusive, (name) => name.includes("ledger-api/") || name.startsWith("(garbage")),
  };
}
