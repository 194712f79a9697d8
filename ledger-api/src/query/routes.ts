/**
 * The read side of the ledger: a batch's provenance answer and its trace.
 *
 * Every route names the batch one of two ways (docs/ARCHITECTURE.md "Identifiers"):
 *   GET /v1/batches/{id}/provenance     {id} = URL-encoded Digital Link URL or path, or the hex batchId
 *   GET /v1/batches/provenance?gtin=&lot=
 * and the same pair for /trace. A malformed reference is 400 INVALID_IDENTIFIER; a well-formed one the ledger does not
 * know is 404 UNKNOWN_BATCH. Answers carry a strong ETag and a short Cache-Control; If-None-Match gives 304.
 */
import type { FastifyPluginAsync } from "fastify";
import { Type } from "typebox";
import type { Deployments } from "../chain/contracts.ts";
import { MAX_LINK_LENGTH } from "../gs1/digital-link.ts";
import { ErrorBody } from "../http/errors.ts";
import type { Store } from "../store/store.ts";
import { resolveQueryRef, resolveRef, type PendingLots } from "./batch-state.ts";
import { markPending, sendCached } from "./http-cache.ts";
import { Provenance } from "../protocol/answer.ts";
import { provenanceOf } from "./provenance.ts";
import { Trace, traceOf } from "./trace.ts";

export interface QueryRoutesOptions {
  readonly store: Store;
  /** Lots a logged Split creates before the index holds them (the ingestor keeps them). */
  readonly pendingLots?: PendingLots;
  readonly deployments: Deployments;
  readonly publicBaseUrl: string;
  readonly publicRpcUrl: string;
}

const IdParam = Type.Object({
  id: Type.String({
    minLength: 1,
    maxLength: MAX_LINK_LENGTH,
    description:
      "the batch: a 0x batchId, or a GS1 Digital Link URL or path with a lot, URL-encoded as one path segment " +
      "(e.g. %2F01%2F08801234000017%2F10%2FJJ-2611-A)",
  }),
});

// Optional in the schema so that a missing key is refused by the identifier rules (INVALID_IDENTIFIER), like any
// other malformed reference, rather than as a generic schema violation.
const KeysQuery = Type.Object({
  gtin: Type.Optional(Type.String({ description: "GTIN-8/12/13/14 (AI 01), check digit verified" })),
  lot: Type.Optional(Type.String({ description: "batch/lot (AI 10)" })),
});

const cached = {
  304: Type.Null({ description: "not modified: the If-None-Match ETag is current" }),
  "4xx": ErrorBody,
  503: ErrorBody,
};

const PROVENANCE_DESCRIPTION =
  "Everything the ledger knows about a batch: its origin and state (custodian, recall, customs), its lineage, every " +
  "log entry of its history with the signed document, the signature, the inclusion proof to an anchored root (or " +
  "pending anchor) and the on-chain record, plus the chain data (EIP-712 domain and types, contract addresses, " +
  "latest anchor) a verifier needs to check it without trusting this server.";

const TRACE_DESCRIPTION =
  "Every ancestor and descendant lot of a batch with its current custodian and recall state: for a recall, the lots " +
  "that inherit it and who holds them.";

export const queryRoutes: FastifyPluginAsync<QueryRoutesOptions> = async (app, opts) => {
  const ctx = {
    store: opts.store,
    ...(opts.pendingLots ? { pendingLots: opts.pendingLots } : {}),
    deployments: opts.deployments,
    publicBaseUrl: opts.publicBaseUrl,
    publicRpcUrl: opts.publicRpcUrl,
  };

  app.get(
    "/v1/batches/:id/provenance",
    {
      config: { admission: "queries" },
      schema: {
        tags: ["provenance"],
        summary: "Provenance of a batch, by Digital Link or batchId",
        description: PROVENANCE_DESCRIPTION,
        params: IdParam,
        response: { 200: Provenance, ...cached },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const answer = await provenanceOf(ctx, resolveRef(id));
      return sendCached(request, markPending(reply, answer.batch.onChain), answer);
    },
  );

  app.get(
    "/v1/batches/provenance",
    {
      config: { admission: "queries" },
      schema: {
        tags: ["provenance"],
        summary: "Provenance of a batch, by GTIN and lot",
        description: PROVENANCE_DESCRIPTION,
        querystring: KeysQuery,
        response: { 200: Provenance, ...cached },
      },
    },
    async (request, reply) => {
      const answer = await provenanceOf(ctx, resolveQueryRef(request.query as object));
      return sendCached(request, markPending(reply, answer.batch.onChain), answer);
    },
  );

  app.get(
    "/v1/batches/:id/trace",
    {
      config: { admission: "queries" },
      schema: {
        tags: ["provenance"],
        summary: "Ancestor and descendant lots of a batch, by Digital Link or batchId",
        description: TRACE_DESCRIPTION,
        params: IdParam,
        response: { 200: Trace, ...cached },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      return sendCached(request, reply, await traceOf(ctx, resolveRef(id)));
    },
  );

  app.get(
    "/v1/batches/trace",
    {
      config: { admission: "queries" },
      schema: {
        tags: ["provenance"],
        summary: "Ancestor and descendant lots of a batch, by GTIN and lot",
        description: TRACE_DESCRIPTION,
        querystring: KeysQuery,
        response: { 200: Trace, ...cached },
      },
    },
    async (request, reply) => sendCached(request, reply, await traceOf(ctx, resolveQueryRef(request.query as object))),
  );
};
