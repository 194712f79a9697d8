/**
 * Load shedding: the service answers the work it can finish soon and refuses the rest at once with 503 `OVERLOADED`
 * and `Retry-After`, instead of queueing without bound until every client times out (and memory runs out).
 *
 * Two layers:
 * - Bounded admission gates (admission-gate.ts) in front of the routes that cost the most. A route declares its gate
 *   in its options, `config: { admission: "ingest" | "queries" }`:
 *     ingest   POST /v1/events, weighed in body bytes: a bounded amount of uploaded data in progress, a bounded
 *              queue of requests (reading their bodies or waiting), each waiting a bounded time. Bytes, not events:
 *              the body goes to the ingest workers unparsed, so its events are counted only once the work is under
 *              way, and the work of parsing, checking and hashing them grows with its size;
 *     queries  provenance, trace, the shopper page, label and QR codes, one unit each, so one expensive answer holds
 *              one of a few slots and the cheap routes (receipts, checkpoint, proofs, /healthz) never wait behind it.
 *   The place in the queue is taken when the request arrives, before its body is read; the work starts right before
 *   the handler and its room is given back when the handler has finished. A request whose client has gone by then
 *   is dropped without running: no event is appended for a submitter that will never see the receipt.
 * - `@fastify/under-pressure` for what no gate bounds: event-loop delay, heap and RSS past their limits refuse every
 *   request except those whose route says `config: { shed: false }` (/healthz and /metrics keep answering).
 *
 * A refusal never happens once work has started, so every 202 the service sends is for events it committed, and a
 * 503 leaves nothing behind.
 */
import underPressure from "@fastify/under-pressure";
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from "fastify";
import fp from "fastify-plugin";
import { AdmissionGate, ClientGoneError, OverloadedError, type Ticket } from "./admission-gate.ts";
import { ApiError } from "./errors.ts";

export type GateName = "ingest" | "queries";

export interface AdmissionLimits {
  /** Bytes of POST /v1/events bodies being checked and appended at once. */
  readonly ingestBytesInFlight: number;
  /** POST /v1/events requests holding a place without running yet (reading their body, or waiting for room). */
  readonly ingestQueue: number;
  /** Expensive queries (provenance, trace, page, label, QR) running at once. */
  readonly queriesInFlight: number;
  /** Expensive queries waiting for a slot. */
  readonly queriesQueue: number;
  /** How long a request may wait for room before it is refused. */
  readonly maxWaitMs: number;
  /** under-pressure: mean event-loop delay (ms) over a second past which requests are refused; 0 off. */
  readonly maxEventLoopDelayMs: number;
  /** under-pressure: V8 heap in use (bytes) past which requests are refused; 0 off. */
  readonly maxHeapUsedBytes: number;
  /** under-pressure: resident set size (bytes) past which requests are refused; 0 off. */
  readonly maxRssBytes: number;
}

export type Gates = Readonly<Record<GateName, AdmissionGate>>;

export function admissionGates(limits: AdmissionLimits): Gates {
  return {
    ingest: new AdmissionGate({
      name: "ingest",
      capacity: limits.ingestBytesInFlight,
      maxQueued: limits.ingestQueue,
      maxWaitMs: limits.maxWaitMs,
    }),
    queries: new AdmissionGate({
      name: "queries",
      capacity: limits.queriesInFlight,
      maxQueued: limits.queriesQueue,
      maxWaitMs: limits.maxWaitMs,
    }),
  };
}

/** Retry-After of a gate's refusal: a queue drains within its wait bound. */
const GATE_RETRY_AFTER_S = 1;
/** Retry-After when the process itself is under pressure (memory, a stalled event loop): that takes longer to clear. */
const PRESSURE_RETRY_AFTER_S = 5;

export interface AdmissionOptions {
  readonly gates: Gates;
  readonly limits: AdmissionLimits;
}

declare module "fastify" {
  interface FastifyContextConfig {
    /** The admission gate this route's work goes through (http/admission.ts). */
    admission?: GateName;
    /** false: answered even under pressure (health and metrics). */
    shed?: boolean;
  }
  interface FastifyInstance {
    /** The admission gates, for metrics and tests. */
    readonly admission: Gates;
  }
}

interface Admission {
  readonly ticket: Ticket;
  /** Aborted when the client closes the connection before the answer was sent. */
  readonly gone: AbortController;
}

/** What a request weighs at its gate: an upload its body's bytes (read by now), a query one. */
function weightOf(gate: GateName, request: FastifyRequest): number {
  if (gate !== "ingest") return 1;
  const body = request.body;
  if (Buffer.isBuffer(body)) return body.length;
  return typeof body === "string" ? Buffer.byteLength(body) : Number(request.headers["content-length"]) || 1;
}

function overloaded(reply: FastifyReply, message: string, retryAfter: number): ApiError {
  reply.header("Retry-After", String(retryAfter));
  return new ApiError("OVERLOADED", `${message}; retry in ${retryAfter} s`, { retryAfter });
}

async function admission(app: FastifyInstance, { gates, limits }: AdmissionOptions): Promise<void> {
  app.decorate("admission", gates);
  const admitted = new WeakMap<FastifyRequest, Admission>();

  await app.register(underPressure, {
    maxEventLoopDelay: limits.maxEventLoopDelayMs,
    maxHeapUsedBytes: limits.maxHeapUsedBytes,
    maxRssBytes: limits.maxRssBytes,
    pressureHandler: (request, reply, type, value) => {
      if (request.routeOptions.config.shed === false) return undefined;
      // Infinity is under-pressure's word for "no sample": one stall longer than its one-second sample (a GC pause, a
      // starved CPU), already over when this request runs. Shedding for it would refuse a whole second of requests
      // (the demo loader's at start-up, say) for a stall that no longer is; the gates bound the work anyway.
      if (type === "eventLoopDelay" && !Number.isFinite(Number(value))) return undefined;
      const what = type === "eventLoopDelay" ? `event-loop delay ${Math.round(Number(value))} ms` : `${type} ${Math.round(Number(value) / 2 ** 20)} MiB`;
      return Promise.reject(overloaded(reply, `the service is under pressure (${what})`, PRESSURE_RETRY_AFTER_S));
    },
  });

  // A place in the gate's queue before anything else is spent on the request (its body is not read yet).
  app.addHook("onRequest", async (request, reply) => {
    const gate = request.routeOptions.config.admission;
    if (gate === undefined) return;
    let ticket: Ticket;
    try {
      ticket = gates[gate].reserve();
    } catch (err) {
      if (err instanceof OverloadedError) throw overloaded(reply, err.message, GATE_RETRY_AFTER_S);
      throw err;
    }
    const gone = new AbortController();
    admitted.set(request, { ticket, gone });
    // A response closed before it finished: the client went away. A place not yet running is given back at once.
    reply.raw.once("close", () => {
      if (!reply.raw.writableFinished) gone.abort();
      ticket.cancel();
    });
  });

  // Whatever did not reach its handler (refused by validation, body too large, ...) gives its place back.
  app.addHook("onResponse", async (request) => {
    admitted.get(request)?.ticket.cancel();
  });

  // The work itself runs inside the gate: started right before the handler, released when the handler is done.
  app.addHook("onRoute", (route: RouteOptions) => {
    const gate = (route.config as { admission?: GateName } | undefined)?.admission;
    if (gate === undefined) return;
    const handler = route.handler;
    route.handler = async function gated(this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) {
      const entry = admitted.get(request);
      if (entry === undefined) throw new Error(`no admission for ${request.method} ${request.url}`);
      const { ticket, gone } = entry;
      const weight = weightOf(gate, request);
      try {
        await ticket.start(weight, gone.signal);
      } catch (err) {
        if (err instanceof OverloadedError) throw overloaded(reply, err.message, GATE_RETRY_AFTER_S);
        if (err instanceof ClientGoneError) throw overloaded(reply, err.message, GATE_RETRY_AFTER_S);
        throw err;
      }
      try {
        // Admitted, but the client left while its turn came: nothing is done (nor stored) for it.
        if (gone.signal.aborted || request.raw.socket?.destroyed === true) {
          throw overloaded(reply, "the client closed the connection before its request was admitted", GATE_RETRY_AFTER_S);
        }
        return await handler.call(this, request, reply);
      } finally {
        ticket.release();
      }
    };
  });
}

export default fp(admission, { name: "admission" });
