/** The frame every benchmark module plugs into (bench/run.ts). */
import type { BenchLog } from "./log.ts";
import type { BodyFactory } from "./events.ts";
import type { LoadOptions, LoadResult } from "./load.ts";
import type { ApiOptions, Served } from "./processes.ts";

/** One measured figure, reported beside its baseline from the same run. */
export interface Figure {
  /** Stable id, e.g. "ingest.batch" (results.json is keyed by it). */
  readonly id: string;
  /** What was measured, as the README table says it. */
  readonly what: string;
  readonly value: number;
  readonly unit: string;
  /** The baseline measured in the same run, and what it is. */
  readonly baseline?: { readonly what: string; readonly value: number };
  /** The goal, e.g. ">= 10000"; `met` says whether value meets it. */
  readonly goal?: { readonly text: string; readonly met: boolean };
  /** Secondary numbers (latency percentiles, failures...). */
  readonly detail?: Readonly<Record<string, number | string>>;
}

export interface BenchContext {
  /** The shared 1M-entry log (built or taken from the cache on first use). */
  log(): Promise<BenchLog>;
  /** A fresh copy of the log's data dir, for a server that may write to it. */
  workDir(): Promise<string>;
  startApi(options: ApiOptions): Promise<Served>;
  startBare(): Promise<Served>;
  load(options: LoadOptions): Promise<LoadResult>;
  readonly bodies: BodyFactory;
  /** Seconds per timed load run. */
  readonly duration: number;
  /** 1 for the full suite; smaller for a smoke run on a tiny log. */
  readonly scale: number;
  /** A line of progress on stderr. */
  note(message: string): void;
}

export interface BenchModule {
  readonly name: string;
  readonly description: string;
  run(ctx: BenchContext): Promise<Figure[]>;
}
