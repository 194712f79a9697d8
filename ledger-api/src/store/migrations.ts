/**
 * Schema migrations of the embedded (SQLite) store, in order. Migration i (1-based) brings the schema from version
 * i-1 to version i; the store applies the missing ones in one transaction at open and records each in
 * `schema_migrations`. Never edit or reorder a released migration: a database that already ran it would silently
 * differ from a fresh one. Append a new entry instead.
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
  {
    // chain/anchorer.ts and chain/relay.ts (store/chain-writers.ts describes the state machines).
    version: 2,
    name: "chain_writers",
    sql: `
      -- One row per anchor attempt. Written as 'sent' BEFORE its raw transaction is broadcast, so a restarted
      -- anchorer knows the nonce and the exact bytes it may have sent and can re-broadcast them (never a new tx).
      CREATE TABLE anchor_intents (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        size INTEGER NOT NULL CHECK (size > 0),
        root TEXT NOT NULL,
        previous_size INTEGER NOT NULL CHECK (previous_size >= 0 AND previous_size < size),
        previous_root TEXT NOT NULL,
        nonce INTEGER NOT NULL,
        raw_tx TEXT NOT NULL,
        tx_hash TEXT NOT NULL UNIQUE,
        status TEXT NOT NULL CHECK (status IN ('sent', 'confirmed', 'failed')),
        block_number INTEGER,
        failure TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      -- Never two anchors in flight: at most one 'sent' row.
      CREATE UNIQUE INDEX anchor_intents_one_in_flight ON anchor_intents(status) WHERE status = 'sent';
      -- Each size is anchored once.
      CREATE UNIQUE INDEX anchor_intents_confirmed_size ON anchor_intents(size) WHERE status = 'confirmed';

      -- The relay's position in the log: every entry below next_idx has its relay row (or is Observed).
      CREATE TABLE relay_cursor (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        next_idx INTEGER NOT NULL CHECK (next_idx >= 0)
      );
      INSERT INTO relay_cursor (id, next_idx) VALUES (1, 0);

      -- One row per lifecycle entry. raw_tx / tx_hash / nonce are written BEFORE the broadcast (status 'sent').
      CREATE TABLE relay_entries (
        idx INTEGER PRIMARY KEY REFERENCES log_entries(idx),
        kind INTEGER NOT NULL,
        actor TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'confirmed', 'refused')),
        nonce INTEGER,
        tx_hash TEXT,
        raw_tx TEXT,
        block_number INTEGER,
        error_name TEXT,
        error TEXT,
        updated_at INTEGER NOT NULL,
        CHECK (status NOT IN ('sent', 'confirmed') OR (nonce IS NOT NULL AND tx_hash IS NOT NULL AND raw_tx IS NOT NULL))
      );
      -- The relay's work queues: pending rows to send and sent rows to settle, in log order.
      CREATE INDEX relay_entries_status ON relay_entries(status, idx);
    `,
  },
];
