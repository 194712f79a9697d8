/**
 * Query strings and path parameters are strings that the shared Ajv coerces to the schema's number types, and it
 * coerces "1e309" to Infinity, which passes `type: integer` and even `maximum` (Ajv's checks are false for NaN
 * comparisons only). A number a route reads from the URL is refused here, after validation and before any handler,
 * unless it is finite: 400 SCHEMA_VIOLATION naming it, instead of a store query with an infinite LIMIT.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import { ApiError } from "./errors.ts";

function checkFinite(where: "querystring" | "params", values: unknown): void {
  if (values === null || typeof values !== "object") return;
  for (const [name, value] of Object.entries(values)) {
    const items = Array.isArray(value) ? value : [value];
    if (items.some((v) => typeof v === "number" && !Number.isFinite(v))) {
      throw new ApiError("SCHEMA_VIOLATION", `${where}/${name} must be a finite number`, { field: `${where}.${name}` });
    }
  }
}

async function finiteNumbers(app: FastifyInstance): Promise<void> {
  app.addHook("preHandler", async (request: FastifyRequest) => {
    checkFinite("querystring", request.query);
    checkFinite("params", request.params);
  });
}

export default fp(finiteNumbers, { name: "finite-numbers" });
