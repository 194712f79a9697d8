/**
 * Schema migrations of the embedded (SQLite) store, in order. Migration i (1-based) brings the schema from version
 * i-1 to version i; the store applies the missing ones in one transaction at open and records each in
 * `schema_migrations`. Never edit or reorder a released migration: a database that already ran it would silently
 * differ from a fresh one. Append a new entry instead (the indexer / relay / anchor tables come next).
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "log",
    sql: `
      -- One row per log leaf. idx is the leaf index (dense, from 0); entry is the leaf preimage (log/entry.ts),
      -- leaf_hash = keccak256(0x00 || entry). key is the event's EIP-712 digest, so a resubmission finds its entry.
      -- prev_idx is the previous entry of the same batch (NULL for the batch's first; -1 inside the entry bytes).
      CREATE TABLE log_entries (
        idx INTEGER PRIMARY KEY,
        key TEXT UNIQUE NOT NULL,
        batch_id TEXT,
        kind INTEGER NOT NULL,
        prev_idx INTEGER REFERENCES log_entries(idx),
        leaf_hash BLOB NOT NULL CHECK (length(leaf_hash) = 32),
        entry BLOB NOT NULL,
        body TEXT NOT NULL,
        received_at INTEGER NOT NULL
      );
      -- Answers "last entry of this batch" (the next entry's prev_idx) and a batch's history, newest first.
      CREATE INDEX log_entries_batch ON log_entries(batch_id, idx);

      -- Complete-subtree hashes (log/hash.ts NodeRef): level 0 = leaf hashes. Written once, never updated.
      CREATE TABLE log_nodes (
        level INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        hash BLOB NOT NULL CHECK (length(hash) = 32),
        PRIMARY KEY (level, idx)
      ) WITHOUT ROWID;
    `,
  },
];
