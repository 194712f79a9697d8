/**
 * The EPCIS 2.0 interface (REST binding): capture, capture jobs, the events query, and a lot's history.
 *
 *   POST /epcis/capture                 EPCISDocument (application/ld+json or application/json) -> 202 + Location
 *   GET  /epcis/capture/{captureID}     the capture job
 *   GET  /epcis/events                  EPCISQueryDocument, paged (query.ts)
 *   GET  /v1/batches/{id}/epcis         the lot's history as an EPCISDocument (the provenance answer's timeline)
 *
 * Refusals here are RFC 7807 problem details (problem.ts) with the ledger's stable `code`; this plugin's error
 * handler writes them, so the rest of the API keeps its own error shape.
 */
import type { FastifyError, FastifyPluginAsync } from "fastify";
import { Type } from "typebox";
import type { Deployments } from "../chain/contracts.ts";
import { fromFastify } from "../http/error-handler.ts";
import { ApiError } from "../http/errors.ts";
import type { Ingestor } from "../ingest/ingestor.ts";
import { bodyOf, resolveRef } from "../query/batch-state.ts";
import { provenanceOf } from "../query/provenance.ts";
import type { Store } from "../store/store.ts";
import { Capture, jobOf } from "./capture.ts";
import { epcisDocument, epcisQueryDocument, loggedToEpcis } from "./output.ts";
import { problem, problemOfApiError, ProblemError, Problem } from "./problem.ts";
import { EpcisProjection } from "./projection.ts";
import { pageToken, parseQuery, QUERY_PARAMETERS, type QueryParameters } from "./query.ts";

export interface EpcisRoutesOptions {
  readonly store: Store;
  readonly ingestor: Ingestor;
  readonly deployments: Deployments;
  readonly publicBaseUrl: string;
  readonly publicRpcUrl: string;
  readonly maxEventsPerRequest: number;
}

const VERSION_HEADERS = { "GS1-EPCIS-Version": "2.0.0", "GS1-CBV-Version": "2.0.0" } as const;

const EpcisJson = Type.Object(
  {
    "@context": Type.Unknown(),
    type: Type.String(),
    schemaVersion: Type.String(),
    creationDate: Type.String(),
    epcisBody: Type.Unknown({ description: "eventList (EPCISDocument) or queryResults.resultsBody.eventList" }),
  },
  { additionalProperties: true, description: "GS1 EPCIS 2.0 JSON-LD; validates against GS1's EPCIS 2.0 JSON Schema" },
);

const CaptureJobSchema = Type.Object(
  {
    captureID: Type.String(),
    createdAt: Type.String({ format: "date-time" }),
    finishedAt: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
    running: Type.Boolean(),
    success: Type.Boolean({ description: "false: every event of the document was refused (rollback); see errors" }),
    captureErrorBehaviour: Type.Literal("rollback"),
    errors: Type.Array(Problem),
    "ledger:events": Type.Array(
      Type.Object({
        eventIndex: Type.Integer(),
        logIndex: Type.Integer(),
        eventHash: Type.String(),
        duplicate: Type.Boolean({ description: "already logged; this is its original entry" }),
      }),
      { description: "where each captured event was logged, in eventList order" },
    ),
  },
  { title: "CaptureJob" },
);

const Query = Type.Object(
  Object.fromEntries(QUERY_PARAMETERS.map((name) => [name, Type.Optional(Type.String({ maxLength: 8192 }))])),
  { additionalProperties: false },
);

const problems = { "4xx": Problem, "5xx": Problem };

export const epcisRoutes: FastifyPluginAsync<EpcisRoutesOptions> = async (app, opts) => {
  const { store, publicBaseUrl } = opts;
  const capture = new Capture({ store, ingestor: opts.ingestor, publicBaseUrl, maxEvents: opts.maxEventsPerRequest });
  const projection = new EpcisProjection(store);
  const ctx = { store, deployments: opts.deployments, publicBaseUrl, publicRpcUrl: opts.publicRpcUrl };

  app.addContentTypeParser("application/ld+json", { parseAs: "string" }, (_request, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch (err) {
      done(err as SyntaxError, undefined);
    }
  });

  app.setErrorHandler((err: FastifyError | ApiError | ProblemError, request, reply) => {
    let p: Problem;
    if (err instanceof ProblemError) p = err.problem;
    else if (err instanceof ApiError) {
      for (const [name, value] of Object.entries(err.headers)) reply.header(name, value);
      p = problemOfApiError(err);
    } else if (err.validation) {
      const first = err.validation[0];
      p = problem("SCHEMA_VIOLATION", `${err.validationContext ?? "request"}${first?.instancePath ?? ""} ${first?.message ?? "is invalid"}`, {
        type: request.method === "GET" ? "epcisException:QueryParameterException" : "epcisException:ValidationException",
      });
    } else {
      // Fastify's and its plugins' refusals with the codes of the one table (http/errors.ts), as on every route.
      const known = fromFastify(err);
      if (known) p = problem(known.code, known.message);
      else if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
        request.log.warn({ err }, "a refusal without a row in the table of codes (http/errors.ts)");
        p = problem("MALFORMED_REQUEST", err.message);
      } else {
        request.log.error({ err }, "unhandled error");
        p = problem("INTERNAL", "internal error; see the server log");
      }
    }
    return reply.status(p.status).type("application/problem+json").headers(VERSION_HEADERS).send(p);
  });

  app.post(
    "/epcis/capture",
    {
      config: { admission: "ingest" },
      schema: {
        tags: ["epcis"],
        summary: "Capture an EPCISDocument (EPCIS 2.0 REST binding)",
        description:
          "Each event is mapped to one ledger document (README, EPCIS mapping) and must carry its actor's EIP-712 " +
          "signature of that document as `ledger:signature`. The document is validated against GS1's EPCIS 2.0 " +
          "JSON Schema; a document or event the ledger cannot represent is refused with problem details naming the " +
          "event and field, and nothing is stored. Otherwise the capture job logs every event or none (same checks " +
          "as POST /v1/events) and is answered 202 with its Location; the job holds the outcome and per-event errors.",
        body: Type.Unknown({ description: "an EPCISDocument (application/ld+json)" }),
        response: { 202: CaptureJobSchema, ...problems },
      },
    },
    async (request, reply) => {
      const behaviour = request.headers["gs1-capture-error-behaviour"];
      if (behaviour !== undefined && behaviour !== "rollback") {
        throw new ProblemError(
          problem("EPCIS_NOT_REPRESENTABLE", `GS1-Capture-Error-Behaviour ${String(behaviour)}: the ledger captures all events or none (rollback)`, {
            pointer: "/",
          }),
        );
      }
      const job = await capture.capture(request.body);
      return reply
        .status(202)
        .headers({ ...VERSION_HEADERS, location: `/epcis/capture/${job.captureID}` })
        .send(job);
    },
  );

  app.get(
    "/epcis/capture/:captureID",
    {
      schema: {
        tags: ["epcis"],
        summary: "A capture job",
        params: Type.Object({ captureID: Type.String({ pattern: "^[0-9a-f-]{36}$" }) }),
        response: { 200: CaptureJobSchema, ...problems },
      },
    },
    async (request, reply) => {
      const { captureID } = request.params as { captureID: string };
      const record = await store.captureJob(captureID);
      if (!record) throw new ProblemError(problem("NOT_FOUND", `no capture job ${captureID}`));
      return reply.headers(VERSION_HEADERS).send(jobOf(record));
    },
  );

  app.get(
    "/epcis/events",
    {
      config: { admission: "queries" },
      schema: {
        tags: ["epcis"],
        summary: "Query events (EPCIS 2.0 SimpleEventQuery parameters)",
        description:
          "eventType, EQ_bizStep, EQ_bizLocation, GE_eventTime, LT_eventTime, MATCH_anyEPC, MATCH_anyEPCClass " +
          "(comma-separated lists; all given parameters must hold), perPage (1-1000, default 100) and " +
          "nextPageToken; the next page's URL is in the Link header (rel=\"next\"). Events in log order.",
        querystring: Query,
        response: { 200: EpcisJson, ...problems },
      },
    },
    async (request, reply) => {
      const q = request.query as QueryParameters;
      const { filter, perPage, digest } = parseQuery(q, publicBaseUrl);
      await projection.catchUp();
      const indices = await store.epcisEvents(filter, perPage + 1);
      const page = indices.slice(0, perPage);
      const events = await Promise.all(
        page.map(async (index) => {
          const entry = await store.entry(index);
          if (!entry) throw new ApiError("INTERNAL", `indexed entry ${index} is not in the log`);
          return loggedToEpcis(publicBaseUrl, { index, eventHash: entry.key, receivedAt: entry.receivedAt, body: bodyOf(entry) });
        }),
      );
      if (indices.length > perPage) {
        const next = new URLSearchParams(
          Object.entries({ ...q, nextPageToken: pageToken(page.at(-1) as number, digest) }) as [string, string][],
        );
        reply.header("link", `<${publicBaseUrl}/epcis/events?${next.toString()}>; rel="next"`);
      }
      return reply.type("application/ld+json").headers(VERSION_HEADERS).send(epcisQueryDocument(publicBaseUrl, events));
    },
  );

  app.get(
    "/v1/batches/:id/epcis",
    {
      config: { admission: "queries" },
      schema: {
        tags: ["epcis"],
        summary: "A lot's history as an EPCIS 2.0 document",
        description:
          "The events of the provenance answer's timeline (the lot's own, the Split / Merge that made it, and the " +
          "pesticide, lab and customs records it inherits from its ancestor lots) as an EPCISDocument, in log " +
          "order, each with its ledger event hash, log index, inclusion proof link and signature envelope; " +
          "`ledger:relation` says why it belongs to the lot (own, created, consumed, inherited).",
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 2048 }) }),
        response: { 200: EpcisJson, ...problems },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const answer = await provenanceOf(ctx, resolveRef(id));
      // The signature envelope is read back from the log entry as signed (the timeline shows the signer's profile).
      const events = await Promise.all(
        answer.timeline.map(async (t) => {
          const entry = await store.entry(t.index);
          if (!entry) throw new ApiError("INTERNAL", `timeline entry ${t.index} is not in the log`);
          return loggedToEpcis(
            publicBaseUrl,
            { index: t.index, eventHash: t.eventHash, receivedAt: t.receivedAt, body: bodyOf(entry) },
            { "ledger:relation": t.relation },
          );
        }),
      );
      return reply.type("application/ld+json").headers(VERSION_HEADERS).send(epcisDocument(publicBaseUrl, events));
    },
  );
};
