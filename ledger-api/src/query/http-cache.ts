/**
 * Conditional GETs for the query answers: a strong ETag over the answer's JSON, `If-None-Match` -> 304, and a short
 * `Cache-Control`.
 *
 * The tag is a digest of the answer itself rather than of a cursor (log size, index block, relay state ...): every
 * one of those moves an answer in its own way (a new anchor re-roots every proof, a relay refusal changes one entry's
 * chain status), and a digest cannot miss one. The cost is that a 304 saves the transfer, not the assembly.
 * The answer is built from one request's reads, so two builds over unchanged state give the same bytes and the same tag.
 */
import { createHash } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";

/**
 * Short on purpose: a recall must reach a shopper's screen within seconds, and revalidation is cheap for the client.
 * `public` because nothing in an answer is per-user.
 */
export const CACHE_CONTROL = "public, max-age=5, must-revalidate";

/** Strong entity tag of a JSON answer: sha256 of its JSON text, base64url, quoted. */
export function etagOf(body: unknown): string {
  return `"${createHash("sha256").update(JSON.stringify(body)).digest("base64url")}"`;
}

/**
 * Whether an `If-None-Match` header matches `etag` (RFC 9110 13.1.2: weak comparison, so `W/"x"` matches `"x"`;
 * `*` matches any current representation).
 */
export function ifNoneMatchHits(header: string | string[] | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const raw = Array.isArray(header) ? header.join(",") : header;
  const strip = (tag: string): string => tag.trim().replace(/^W\//, "");
  return raw.split(",").some((tag) => tag.trim() === "*" || strip(tag) === strip(etag));
}

/**
 * Marks an answer about a lot that is logged but not yet on chain (query/batch-state.ts KnownBatch.onChain), on
 * every representation of it: provenance JSON, shopper page, label, QR codes.
 */
export const PENDING_HEADER = "Ledger-Batch-State";

export function markPending(reply: FastifyReply, onChain: boolean): FastifyReply {
  return onChain ? reply : reply.header(PENDING_HEADER, "pending");
}

/** Sends `body` with its ETag and Cache-Control, or an empty 304 when the client already holds it. */
export function sendCached<T>(request: FastifyRequest, reply: FastifyReply, body: T): FastifyReply {
  const etag = etagOf(body);
  reply.header("ETag", etag).header("Cache-Control", CACHE_CONTROL);
  if (ifNoneMatchHits(request.headers["if-none-match"], etag)) return reply.code(304).send();
  return reply.code(200).send(body);
}
