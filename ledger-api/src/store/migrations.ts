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
    version: 2,
    name: "index",
    sql: `
      -- The chain index (store/index-store.ts, written by chain/indexer.ts). Hex is lower-case 0x; uint256 values
      -- are decimal TEXT. Every row names the block it came from. Rows only change through applyChainBatch, which
      -- writes a whole block range and the cursor in one transaction.

      -- Where the index stands, per contract set ("{chainId}:{ledger}:{anchor}"); one row in practice.
      CREATE TABLE chain_cursor (
        contracts TEXT PRIMARY KEY,
        block_number INTEGER NOT NULL,
        block_hash TEXT NOT NULL,
        updated_at INTEGER NOT NULL
      );

      -- Current role holders; a revocation deletes the row.
      CREATE TABLE roles (
        contract TEXT NOT NULL CHECK (contract IN ('ledger', 'anchor')),
        role TEXT NOT NULL,
        account TEXT NOT NULL,
        block_number INTEGER NOT NULL,
        PRIMARY KEY (contract, role, account)
      ) WITHOUT ROWID;
      CREATE INDEX roles_account ON roles(account);

      -- gln is a uint64, beyond SQLite's signed INTEGER, so decimal TEXT; country is the bytes2 hex.
      CREATE TABLE profiles (
        account TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        gln TEXT NOT NULL,
        country TEXT NOT NULL,
        retail INTEGER NOT NULL,
        block_number INTEGER NOT NULL
      ) WITHOUT ROWID;

      -- A batch's state as ProvenanceLedger.getBatch returns it; recalled is the batch's own flag.
      CREATE TABLE batches (
        batch_id TEXT PRIMARY KEY,
        gtin TEXT,
        lot TEXT,
        registrant TEXT NOT NULL,
        custodian TEXT NOT NULL,
        quantity TEXT NOT NULL,
        unit TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('active', 'split', 'merged')),
        recalled INTEGER NOT NULL,
        imported INTEGER NOT NULL,
        customs_cleared INTEGER NOT NULL,
        offer_to TEXT,
        head TEXT NOT NULL,
        ancestry INTEGER NOT NULL,
        created_block INTEGER NOT NULL,
        created_tx TEXT NOT NULL,
        updated_block INTEGER NOT NULL
      );
      CREATE INDEX batches_custodian ON batches(custodian);
      CREATE INDEX batches_gtin_lot ON batches(gtin, lot);

      -- One row per lineage edge (ProvenanceLedger.Lineage); seq keeps the chain order of a merge's parents.
      CREATE TABLE lineage (
        seq INTEGER PRIMARY KEY,
        child TEXT NOT NULL,
        parent TEXT NOT NULL,
        event_hash TEXT NOT NULL,
        quantity TEXT NOT NULL,
        block_number INTEGER NOT NULL,
        UNIQUE (child, parent)
      );
      CREATE INDEX lineage_parent ON lineage(parent, seq);
      CREATE INDEX lineage_event ON lineage(event_hash);

      -- One row per lifecycle event; Split / Merged once, under the event's own batchId.
      CREATE TABLE lifecycle_events (
        event_hash TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        batch_id TEXT NOT NULL,
        actor TEXT NOT NULL,
        doc_hash TEXT NOT NULL,
        head TEXT NOT NULL,
        details TEXT NOT NULL,
        nonce TEXT,
        tx_hash TEXT NOT NULL,
        block_number INTEGER NOT NULL,
        block_hash TEXT NOT NULL,
        log_index INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX lifecycle_events_batch ON lifecycle_events(batch_id, block_number, log_index);

      CREATE TABLE spent_nonces (
        actor TEXT NOT NULL,
        nonce TEXT NOT NULL,
        event_hash TEXT NOT NULL,
        block_number INTEGER NOT NULL,
        PRIMARY KEY (actor, nonce)
      ) WITHOUT ROWID;

      CREATE TABLE anchors (
        anchor_index INTEGER PRIMARY KEY,
        size INTEGER NOT NULL,
        root TEXT NOT NULL,
        previous_size INTEGER NOT NULL,
        anchorer TEXT NOT NULL,
        tx_hash TEXT NOT NULL,
        block_number INTEGER NOT NULL,
        block_hash TEXT NOT NULL,
        block_time INTEGER NOT NULL
      );
      CREATE INDEX anchors_size ON anchors(size);
    `,
  },
  {
    // chain/anchorer.ts and chain/relay.ts (store/chain-writers.ts describes the state machines).
    version: 3,
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
  {
    // epcis/ (store/epcis-store.ts): the EPCIS query index, a projection of the log kept by epcis/projection.ts,
    // and the capture jobs of POST /epcis/capture. Derived rows carry no foreign key to log_entries: the projection
    // can be dropped and rebuilt from the log (reset the cursor to 0).
    version: 4,
    name: "epcis",
    sql: `
      -- Every log entry below next_idx has its epcis_events row (and its epcis_event_lots rows).
      CREATE TABLE epcis_cursor (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        next_idx INTEGER NOT NULL CHECK (next_idx >= 0)
      );
      INSERT INTO epcis_cursor (id, next_idx) VALUES (1, 0);

      -- One row per log entry: the terms GET /epcis/events filters on. event_time is unix ms of the document's
      -- occurredAt; biz_step and biz_location are the EPCIS values the entry reads back with (NULL when it has none).
      CREATE TABLE epcis_events (
        idx INTEGER PRIMARY KEY,
        event_type TEXT NOT NULL,
        event_time INTEGER NOT NULL,
        biz_step TEXT,
        biz_location TEXT
      );
      -- Each filter has an index ending in idx, so a filtered page is read in log order and stops at the page size.
      CREATE INDEX epcis_events_time ON epcis_events(event_time, idx);
      CREATE INDEX epcis_events_biz_step ON epcis_events(biz_step, idx);
      CREATE INDEX epcis_events_biz_location ON epcis_events(biz_location, idx);

      -- Every lot an entry names (its batch, split children, merge parents): MATCH_anyEPC / MATCH_anyEPCClass.
      CREATE TABLE epcis_event_lots (
        batch_id TEXT NOT NULL,
        idx INTEGER NOT NULL,
        PRIMARY KEY (batch_id, idx)
      ) WITHOUT ROWID;

      -- POST /epcis/capture's jobs, stored so any instance answers GET /epcis/capture/{captureID}.
      -- errors and events are JSON arrays (RFC 7807 problems; {index, eventHash} per captured event).
      CREATE TABLE epcis_capture_jobs (
        capture_id TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL,
        finished_at INTEGER,
        running INTEGER NOT NULL,
        success INTEGER NOT NULL,
        error_behaviour TEXT NOT NULL,
        errors TEXT NOT NULL,
        events TEXT NOT NULL
      );
    `,
  },
  {
    // ingest/ingestor.ts reads the log itself for two admission rules, so they hold across restarts and, with a
    // shared store, across API instances: a signer's nonce is single-use across every kind (the contract sees only
    // the lifecycle kinds), and Observed events are budgeted per signer and lot over a sliding day.
    version: 5,
    name: "log_signers",
    sql: `
      -- signer: the lower-case 0x address of the entry's signer; nonce: the decimal nonce the entry spent.
      ALTER TABLE log_entries ADD COLUMN signer TEXT;
      ALTER TABLE log_entries ADD COLUMN nonce TEXT;
      UPDATE log_entries SET
        signer = lower(json_extract(body, '$.signer')),
        nonce = json_extract(body, '$.values.nonce')
      WHERE json_valid(body);
      -- Observed events could reuse a nonce before this version: the first use keeps it, later ones spent none.
      CREATE INDEX log_entries_nonce_backfill ON log_entries(signer, nonce, idx);
      UPDATE log_entries SET nonce = NULL
      WHERE nonce IS NOT NULL AND EXISTS (
        SELECT 1 FROM log_entries AS earlier
        WHERE earlier.signer = log_entries.signer AND earlier.nonce = log_entries.nonce AND earlier.idx < log_entries.idx
      );
      DROP INDEX log_entries_nonce_backfill;
      -- One entry per (signer, nonce); NULLs (entries spending none) are distinct.
      CREATE UNIQUE INDEX log_entries_nonce ON log_entries(signer, nonce);
      -- A signer's observations of a lot since a time: the observation budget's count.
      CREATE INDEX log_entries_observations ON log_entries(batch_id, signer, received_at) WHERE kind = 10;
    `,
  },
  {
    // market/ (store/market-store.ts): the market screens' projection of the log, kept by market/projection.ts
    // behind its own cursor like the EPCIS index (rebuildable: reset the cursor to 0 and empty the tables), plus
    // indexes on the chain index's batches that the safety centre's grouped reads run on.
    version: 6,
    name: "market",
    sql: `
      CREATE TABLE market_cursor (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        next_idx INTEGER NOT NULL CHECK (next_idx >= 0)
      );
      INSERT INTO market_cursor (id, next_idx) VALUES (1, 0);

      -- A lot's origin (its own Registered document, or its parent's for a split lot, its first parent's for a
      -- merged one) and who the log says took it last, since when (unix ms) and by which event.
      CREATE TABLE market_lots (
        batch_id TEXT PRIMARY KEY,
        product TEXT NOT NULL,
        country TEXT NOT NULL,
        region TEXT NOT NULL,
        farm TEXT NOT NULL,
        harvest_date TEXT NOT NULL,
        imported INTEGER NOT NULL,
        holder TEXT NOT NULL,
        held_since INTEGER NOT NULL,
        held_event TEXT NOT NULL
      );
      CREATE INDEX market_lots_origin ON market_lots(country, region);

      -- One row per accepted hand-off; day = whole UTC days since 1970; origin copied from market_lots.
      CREATE TABLE market_arrivals (
        idx INTEGER PRIMARY KEY,
        batch_id TEXT NOT NULL,
        receiver TEXT NOT NULL,
        day INTEGER NOT NULL,
        country TEXT NOT NULL,
        region TEXT NOT NULL
      );
      -- Supply per day and origin for a set of receivers is read from this index alone.
      CREATE INDEX market_arrivals_receiver ON market_arrivals(receiver, day, country, region);

      -- One row per lab test; failed is a JSON array of the analytes over their limits.
      CREATE TABLE market_tests (
        idx INTEGER PRIMARY KEY,
        batch_id TEXT NOT NULL,
        day INTEGER NOT NULL,
        passed INTEGER NOT NULL,
        lab TEXT NOT NULL,
        failed TEXT NOT NULL
      );
      CREATE INDEX market_tests_day ON market_tests(day, passed);
      CREATE INDEX market_tests_failed ON market_tests(passed, idx);

      -- One row per pesticide application, with the interval check made when it was indexed.
      CREATE TABLE market_pesticides (
        idx INTEGER PRIMARY KEY,
        batch_id TEXT NOT NULL,
        day INTEGER NOT NULL,
        substance TEXT NOT NULL,
        phi_days INTEGER NOT NULL,
        harvest_date TEXT,
        days_before_harvest INTEGER,
        violation INTEGER NOT NULL
      );
      CREATE INDEX market_pesticides_violation ON market_pesticides(violation, day, idx);

      -- One row per recall acknowledgement (protocol/recall-ack.ts).
      CREATE TABLE market_acks (
        idx INTEGER PRIMARY KEY,
        batch_id TEXT NOT NULL,
        recall_event TEXT NOT NULL,
        signer TEXT NOT NULL,
        event_hash TEXT NOT NULL,
        at INTEGER NOT NULL
      );
      CREATE INDEX market_acks_batch ON market_acks(batch_id, idx);

      -- The chain index's batches, read by holder (counts per stall), by import state and by own recall.
      CREATE INDEX batches_custodian_state ON batches(custodian, status, imported, customs_cleared);
      CREATE INDEX batches_imports ON batches(imported, status, customs_cleared);
      CREATE INDEX batches_recalled ON batches(recalled, batch_id);
    `,
  },
  {
    // chain/relay.ts sends lifecycle events in groups (ProvenanceLedger.relayGroup): a group's raw transaction is
    // stored once, in relay_groups, and each row it carries points at it. SQLite cannot change a CHECK constraint,
    // so relay_entries is rebuilt (its rows copied as they are) with group_id and the CHECK that admits it.
    version: 7,
    name: "relay_groups",
    sql: `
      -- One row per relayGroup transaction, written BEFORE its broadcast (with the rows it carries turning 'sent').
      -- raw_tx / tx_hash are replaced together by a fee bump (same nonce, same calls); the row is never deleted.
      CREATE TABLE relay_groups (
        id INTEGER PRIMARY KEY,
        nonce INTEGER NOT NULL,
        tx_hash TEXT NOT NULL,
        raw_tx TEXT NOT NULL,
        calls INTEGER NOT NULL CHECK (calls >= 2),
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );

      -- As in migration 3, plus group_id: a row sent in a group holds the group's nonce and tx_hash (what health,
      -- recovery and the answers read) and no raw_tx of its own; a row sent alone holds its raw_tx and no group.
      CREATE TABLE relay_entries_v7 (
        idx INTEGER PRIMARY KEY REFERENCES log_entries(idx),
        kind INTEGER NOT NULL,
        actor TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'confirmed', 'refused')),
        nonce INTEGER,
        tx_hash TEXT,
        raw_tx TEXT,
        group_id INTEGER REFERENCES relay_groups(id),
        block_number INTEGER,
        error_name TEXT,
        error TEXT,
        updated_at INTEGER NOT NULL,
        CHECK (raw_tx IS NULL OR group_id IS NULL),
        CHECK (status NOT IN ('sent', 'confirmed') OR
               (nonce IS NOT NULL AND tx_hash IS NOT NULL AND (raw_tx IS NOT NULL OR group_id IS NOT NULL)))
      );
      INSERT INTO relay_entries_v7 (idx, kind, actor, status, nonce, tx_hash, raw_tx, group_id, block_number, error_name,
          error, updated_at)
        SELECT idx, kind, actor, status, nonce, tx_hash, raw_tx, NULL, block_number, error_name, error, updated_at
        FROM relay_entries;
      DROP TABLE relay_entries;
      ALTER TABLE relay_entries_v7 RENAME TO relay_entries;
      CREATE INDEX relay_entries_status ON relay_entries(status, idx);
      -- A group's rows, for a fee bump that rewrites their hash.
      CREATE INDEX relay_entries_group ON relay_entries(group_id) WHERE group_id IS NOT NULL;
    `,
  },
];
