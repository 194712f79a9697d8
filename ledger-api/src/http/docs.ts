/**
 * The OpenAPI document, generated from the same JSON Schemas the routes validate with, served at /docs
 * (interactive) and /docs/json. Must be registered before the routes it describes.
 */
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";

export interface DocsOptions {
  readonly publicBaseUrl: string;
  readonly version: string;
}

async function docs(app: FastifyInstance, opts: DocsOptions): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Provenance ledger API",
        version: opts.version,
        description:
          "Signed food-provenance events, an append-only Merkle log anchored on an EVM chain, and provenance " +
          "answers every shopper can verify. Errors carry a stable `code`.",
      },
      servers: [{ url: opts.publicBaseUrl }],
      tags: [
        { name: "ingest", description: "Submit signed events" },
        { name: "provenance", description: "Where does this batch come from?" },
        { name: "resolver", description: "GS1 Digital Link resolver: what a batch's QR code opens" },
        { name: "labels", description: "QR codes and printable labels for producers" },
        { name: "log", description: "The append-only Merkle log and its anchors" },
        { name: "actors", description: "Who is behind an address" },
        { name: "ops", description: "Health and metrics" },
      ],
    },
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });
}

export default fp(docs, { name: "docs" });
