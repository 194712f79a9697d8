/**
 * The benchmark modules, one per figure family, in run order. To add one: write `bench/modules/<name>.ts` exporting a
 * BenchModule (lib/types.ts) and list it here; `npm run bench -- --only <name>` runs it alone.
 */
import type { BenchModule } from "../lib/types.ts";
import { ingest } from "./ingest.ts";
import { market } from "./market.ts";
import { relay } from "./relay.ts";

export const MODULES: readonly BenchModule[] = [ingest, market, relay];
