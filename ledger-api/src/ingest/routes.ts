/**
 * POST /v1/events and GET /v1/events/{id}: submit signed events, follow their receipts.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifySchemaValidationError } from "fastify";
import { Type, type Static, type TSchema } from "typebox";
import { Compile } from "typebox/compile";
import { refusalCode } from "../http/error-handler.ts";
import { ApiError, ErrorBody } from "../http/errors.ts";
import type { AnchorRow, RelayRecord, Store, StoredEntry } from "../store/store.ts";
import { KIND_NAMES, type Kind } from "../protocol/typed-data.ts";
import { bytesToHex } from "../log/hash.ts";
import type { IngestReceipt, Ingestor } from "./ingestor.ts";
import { ingestBodySchema } from "./prepare.ts";

export const Receipt = Type.Object(
  {
    index: Type.Integer({ description: "log sequence number (leaf index)" }),
    eventHash: Type.String({ description: "EIP-712 hash of the signed struct; the event's key" }),
    leafHash: Type.String({ description: "RFC 9162 leaf hash of the log entry" }),
    prevIndex: Type.Integer({ description: "previous entry of the same batch, -1 for its first" }),
    duplicate: Type.Boolean({ description: "the event was already logged; this is its original receipt" }),
    batchId: Type.String(),
    kind: Type.String(),
    anchor: Type.Object({
      status: Type.Union([Type.Literal("pending"), Type.Literal("anchored")]),
      promisedWithinMs: Type.Integer({ description: "the anchorer commits a root covering it within this delay" }),
      anchorIndex: Type.Optional(Type.Integer()),
      txHash: Type.Optional(Type.String()),
    }),
    relay: Type.Union([
      Type.Null({ description: "Observed events are not recorded on chain" }),
      Type.Object({
        status: Type.String({ description: "queued | pending | sent | confirmed | refused" }),
        txHash: Type.Optional(Type.String()),
        reason: Type.Optional(Type.String({ description: "the contract's refusal, e.g. BatchRecalled(0x.., 0x..)" })),
      }),
    ]),
  },
  { $id: "Receipt", title: "Receipt" },
);
export type Receipt = Static<typeof Receipt>;

export interface IngestRoutesOptions {
  readonly ingestor: Ingestor;
  readonly store: Store;
  readonly maxEventsPerRequest: number;
  readonly anchorIntervalMs: number;
}

/** What a receipt says about one logged entry, whichever way it was found. */
interface Logged {
  readonly index: number;
  readonly eventHash: string;
  readonly leafHash: string;
  readonly prevIndex: number;
  readonly batchId: string;
  readonly kind: string;
}

function shapeReceipt(
  entry: Logged,
  duplicate: boolean,
  anchor: AnchorRow | undefined,
  relay: RelayRecord | undefined,
  relayCursor: number,
  anchorIntervalMs: number,
): Receipt {
  return {
    index: entry.index,
    eventHash: entry.eventHash,
    leafHash: entry.leafHash,
    prevIndex: entry.prevIndex,
    duplicate,
    batchId: entry.batchId,
    kind: entry.kind,
    anchor: anchor
      ? { status: "anchored", promisedWithinMs: anchorIntervalMs, anchorIndex: anchor.anchorIndex, txHash: anchor.txHash }
      : { status: "pending", promisedWithinMs: anchorIntervalMs },
    relay:
      entry.kind === "Observed"
        ? null
        : relay
          ? {
              status: relay.status,
              ...(relay.txHash ? { txHash: relay.txHash } : {}),
              ...(relay.error ? { reason: relay.error } : {}),
            }
          : { status: entry.index >= relayCursor ? "queued" : "pending" },
  };
}

/** The receipt of a logged entry as it stands now: anchored yet? relayed yet? */
export async function receiptOf(store: Store, entry: StoredEntry, anchorIntervalMs: number, duplicate = false): Promise<Receipt> {
  const kind = KIND_NAMES[entry.kind as Kind] ?? String(entry.kind);
  const [anchor, relay, relayCursor] = await Promise.all([
    store.anchorCovering(entry.index),
    kind === "Observed" ? undefined : store.relayRecord(entry.index),
    store.relayCursor(),
  ]);
  const logged = { index: entry.index, eventHash: entry.key, leafHash: bytesToHex(entry.leafHash), prevIndex: entry.prevIndex, batchId: entry.batchId, kind };
  return shapeReceipt(logged, duplicate, anchor, relay, relayCursor, anchorIntervalMs);
}

/**
 * The receipts of one submission, from what ingest returned plus two reads for the whole request (the latest anchor
 * and the relay's cursor): no read per event. The anchor covering an entry is the latest one whose size exceeds its
 * index (store anchorCovering), and an entry at or past the relay's cursor has no relay record yet; only an entry
 * the relay has already passed (a resubmission, mostly) costs a read of its relay record.
 */
export async function receiptsOf(store: Store, receipts: readonly IngestReceipt[], anchorIntervalMs: number): Promise<Receipt[]> {
  const [anchor, relayCursor] = await Promise.all([store.latestAnchor(), store.relayCursor()]);
  return Promise.all(
    receipts.map(async (r) => {
      const relay = r.kind === "Observed" || r.index >= relayCursor ? undefined : await store.relayRecord(r.index);
      const covering = anchor !== undefined && anchor.size > r.index ? anchor : undefined;
      return shapeReceipt(r, r.duplicate, covering, relay, relayCursor, anchorIntervalMs);
    }),
  );
}

export const ingestRoutes: FastifyPluginAsync<IngestRoutesOptions> = async (app: FastifyInstance, opts) => {
  const { ingestor, store, maxEventsPerRequest, anchorIntervalMs } = opts;

  // A signed body is validated exactly as sent, by the ingest workers (prepare.ts): the route hands them the raw
  // bytes, so parsing, the schema and every per-event check leave the main thread. The body schema below is what
  // they check and what the OpenAPI document shows; Fastify's own validation of it is switched off here. Other
  // parts (params) are validated with TypeBox, which never coerces ("1200" stays a string), unlike the app's Ajv.
  app.setValidatorCompiler(({ schema, httpPart, method, url }) => {
    if (httpPart === "body" && method === "POST" && url === "/v1/events") return () => true;
    const checker = Compile(schema as TSchema);
    const validate = (data: unknown): boolean => {
      if (checker.Check(data)) return true;
      // TypeBox reports errors in Ajv's shape (instancePath, message, ...), which the error handler reads.
      validate.errors = checker.Errors(data) as unknown as FastifySchemaValidationError[];
      return false;
    };
    validate.errors = [] as FastifySchemaValidationError[];
    return validate;
  });
  // Events are JSON: without this, Fastify's default text/plain parser hands the route a string (400, not 415).
  app.removeContentTypeParser("text/plain");
  // The raw bytes, for the workers (BODY_LIMIT still applies: Fastify counts them before this parser runs).
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (_request, body, done) => {
    if ((body as Buffer).length === 0) {
      done(new ApiError("SCHEMA_VIOLATION", "Body cannot be empty when content-type is set to 'application/json'"), undefined);
      return;
    }
    done(null, body);
  });

  // Refused requests, by code (schema violations included, which never reach the handler), for /metrics.
  app.addHook("onError", async (request, _reply, err) => {
    if (request.method !== "POST") return;
    app.countEvents(`refused:${refusalCode(err)}`);
  });

  app.post(
    "/v1/events",
    {
      config: { admission: "ingest" },
      schema: {
        tags: ["ingest"],
        summary: "Submit one or many signed events",
        description:
          "All events of a request are logged together or none is. Each is checked (schema, canonical document " +
          "hash, EIP-712 signature, the signer's role, the batch rules the contract enforces), appended durably, " +
          "then answered with a receipt. Lifecycle events are relayed to the contract; follow them with " +
          "GET /v1/events/{id}. Resubmitting an event returns its original receipt.",
        body: ingestBodySchema(maxEventsPerRequest),
        response: {
          202: Type.Object({ receipts: Type.Array(Receipt) }),
          "4xx": ErrorBody,
          503: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const receipts = await ingestor.submit(request.body as Buffer);
      const duplicates = receipts.filter((r) => r.duplicate).length;
      app.countEvents("logged", receipts.length - duplicates);
      if (duplicates > 0) app.countEvents("duplicate", duplicates);
      const out = await receiptsOf(store, receipts, anchorIntervalMs);
      return reply.status(202).send({ receipts: out });
    },
  );

  app.get(
    "/v1/events/:id",
    {
      schema: {
        tags: ["ingest"],
        summary: "A receipt by log index or event hash",
        params: Type.Object({ id: Type.String({ pattern: "^([0-9]{1,15}|0x[0-9a-fA-F]{64})$" }) }),
        response: { 200: Receipt, "4xx": ErrorBody },
      },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      const entry = id.startsWith("0x") ? await store.entryByKey(id.toLowerCase()) : await store.entry(Number(id));
      if (!entry) throw new ApiError("NOT_FOUND", `no logged event ${id}`);
      return receiptOf(store, entry, anchorIntervalMs);
    },
  );
};
