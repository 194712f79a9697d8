/**
 * The log's public face: its checkpoint, any entry with its inclusion proof, consistency proofs between sizes,
 * and the anchors that pin its roots on chain. Every proof is assembled from stored nodes (one read), never by
 * rebuilding a tree, and is checkable against a root the anchor contract holds.
 */
import type { FastifyPluginAsync } from "fastify";
import { Type } from "typebox";
import { ApiError, ErrorBody } from "../http/errors.ts";
import type { Store } from "../store/store.ts";
import { KIND_NAMES, type Kind } from "../protocol/typed-data.ts";
import { Anchor, Hex32, InclusionProof } from "../protocol/answer.ts";
import { bytesToHex } from "../log/hash.ts";
import { consistencyProof, proofToHex, root } from "../log/merkle.ts";
import { anchorView, proofFor } from "./views.ts";

export interface LogRoutesOptions {
  readonly store: Store;
}

export const logRoutes: FastifyPluginAsync<LogRoutesOptions> = async (app, { store }) => {
  app.get(
    "/v1/log/checkpoint",
    {
      schema: {
        tags: ["log"],
        summary: "The log's current size and root, and its latest anchor",
        response: {
          200: Type.Object({
            size: Type.Integer(),
            root: Hex32,
            latestAnchor: Type.Union([Anchor, Type.Null()]),
          }),
        },
      },
    },
    async () => {
      const [checkpoint, anchor] = await Promise.all([store.checkpoint(), store.latestAnchor()]);
      return { size: checkpoint.size, root: bytesToHex(checkpoint.root), latestAnchor: anchor ? anchorView(anchor) : null };
    },
  );

  app.get(
    "/v1/log/entries/:index",
    {
      schema: {
        tags: ["log"],
        summary: "One log entry, its leaf preimage and its inclusion proof",
        params: Type.Object({ index: Type.Integer({ minimum: 0 }) }),
        response: {
          200: Type.Object({
            index: Type.Integer(),
            eventHash: Hex32,
            batchId: Hex32,
            kind: Type.String(),
            prevIndex: Type.Integer(),
            entry: Type.String({ description: "the leaf preimage, ABI-encoded (log/entry.ts)" }),
            body: Type.Unknown({ description: "the signed event as logged: doc, values, signer, signature" }),
            receivedAt: Type.Integer({ description: "unix milliseconds" }),
            proof: InclusionProof,
          }),
          "4xx": ErrorBody,
        },
      },
    },
    async (request) => {
      const { index } = request.params as { index: number };
      const entry = await store.entry(index);
      if (!entry) throw new ApiError("NOT_FOUND", `the log has no entry ${index}`);
      return {
        index: entry.index,
        eventHash: entry.key,
        batchId: entry.batchId,
        kind: KIND_NAMES[entry.kind as Kind] ?? String(entry.kind),
        prevIndex: entry.prevIndex,
        entry: bytesToHex(entry.entry),
        body: JSON.parse(entry.body) as unknown,
        receivedAt: entry.receivedAt,
        proof: await proofFor(store, entry),
      };
    },
  );

  app.get(
    "/v1/log/consistency",
    {
      schema: {
        tags: ["log"],
        summary: "RFC 9162 consistency proof between two tree sizes",
        querystring: Type.Object({ from: Type.Integer({ minimum: 0 }), to: Type.Integer({ minimum: 0 }) }),
        response: {
          200: Type.Object({ from: Type.Integer(), to: Type.Integer(), fromRoot: Hex32, toRoot: Hex32, proof: Type.Array(Hex32) }),
          "4xx": ErrorBody,
        },
      },
    },
    async (request) => {
      const { from, to } = request.query as { from: number; to: number };
      const { size } = await store.checkpoint();
      if (from > to || to > size) {
        throw new ApiError("SCHEMA_VIOLATION", `need 0 <= from <= to <= ${size} (the log's size), got from=${from} to=${to}`);
      }
      const [proof, fromRoot, toRoot] = await Promise.all([
        consistencyProof(from, to, store),
        root(from, store),
        root(to, store),
      ]);
      return { from, to, fromRoot: bytesToHex(fromRoot), toRoot: bytesToHex(toRoot), proof: proofToHex(proof) };
    },
  );

  app.get(
    "/v1/anchors",
    {
      schema: {
        tags: ["log"],
        summary: "Anchored roots, newest first",
        querystring: Type.Object({
          limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
          before: Type.Optional(Type.Integer({ minimum: 0, description: "anchor index to page from" })),
        }),
        response: { 200: Type.Object({ anchors: Type.Array(Anchor) }) },
      },
    },
    async (request) => {
      const { limit, before } = request.query as { limit: number; before?: number };
      return { anchors: (await store.anchors(limit, before)).map(anchorView) };
    },
  );
};
