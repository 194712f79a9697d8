/**
 * The EPCIS query index (store/epcis-store.ts) kept up with the log.
 *
 * Every log entry gets one index row with the terms GET /epcis/events filters on, derived from its document by the
 * same mapping the events read back with (mapping.ts `indexTermsOf`), so a filter matches exactly what a reader sees.
 * The projection follows the log in order behind its own cursor, in chunks, each chunk one store transaction that
 * also moves the cursor; a query first brings it up to the log's size. Bodies are parsed once, when indexed, never
 * per query. Crash-safe by construction: a chunk is indexed entirely or not at all, and an index row is a pure
 * function of its entry, so a restarted (or another) instance continues from the stored cursor.
 */
import type { EventDoc } from "../protocol/documents.ts";
import { bodyOf } from "../query/batch-state.ts";
import type { EpcisIndexRow, Store, StoredEntry } from "../store/store.ts";
import { indexTermsOf } from "./mapping.ts";

/** Entries indexed per transaction: large enough to amortise the commit, small enough not to hold the writer long. */
const CHUNK = 500;

export function indexRowOf(entry: StoredEntry): EpcisIndexRow {
  const doc = bodyOf(entry).doc as unknown as EventDoc;
  return { index: entry.index, ...indexTermsOf(doc) };
}

export class EpcisProjection {
  private readonly store: Store;
  private running: Promise<void> | undefined;

  constructor(store: Store) {
    this.store = store;
  }

  /** Resolves once every entry committed when it was called is indexed; concurrent callers share one pass. */
  catchUp(): Promise<void> {
    this.running ??= this.run().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async run(): Promise<void> {
    const size = await this.store.size();
    let cursor = await this.store.epcisCursor();
    while (cursor < size) {
      const end = Math.min(cursor + CHUNK, size);
      const rows: EpcisIndexRow[] = [];
      for (let i = cursor; i < end; i++) {
        const entry = await this.store.entry(i);
        if (entry === undefined) throw new Error(`log entry ${i} is missing below the log size ${size}`);
        rows.push(indexRowOf(entry));
      }
      // Another instance may have indexed the chunk first; then continue from where it left the cursor.
      cursor = (await this.store.indexEpcisEvents(cursor, end, rows)) ? end : await this.store.epcisCursor();
    }
  }
}
