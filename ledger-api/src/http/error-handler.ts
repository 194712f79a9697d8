/**
 * One error shape for every refusal (see errors.ts). Fastify's own refusals (schema validation, oversize body,
 * malformed JSON, unsupported media type) are translated to stable codes; anything unexpected becomes a logged 500
 * whose body reveals nothing internal. Bad input never produces a 5xx.
 */
import type { FastifyError, FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { ApiError, type ErrorBody } from "./errors.ts";

function fromFastify(err: FastifyError): ErrorBody | undefined {
  if (err.validation) {
    const first = err.validation[0];
    const where = first ? `${err.validationContext ?? "body"}${first.instancePath}` : (err.validationContext ?? "body");
    return { statusCode: 400, code: "SCHEMA_VIOLATION", message: `${where} ${first?.message ?? "is invalid"}` };
  }
  switch (err.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return { statusCode: 413, code: "BODY_TOO_LARGE", message: err.message };
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return { statusCode: 415, code: "UNSUPPORTED_MEDIA_TYPE", message: err.message };
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return { statusCode: 400, code: "SCHEMA_VIOLATION", message: err.message };
  }
  if (err instanceof SyntaxError || (err.statusCode === 400 && /JSON/i.test(err.message))) {
    return { statusCode: 400, code: "MALFORMED_JSON", message: err.message };
  }
  if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
    return { statusCode: err.statusCode, code: err.code ?? "BAD_REQUEST", message: err.message };
  }
  return undefined;
}

async function errorHandler(app: FastifyInstance): Promise<void> {
  app.setErrorHandler((err: FastifyError | ApiError, request, reply) => {
    if (err instanceof ApiError) {
      return reply.status(err.statusCode).send({
        ...err.details,
        statusCode: err.statusCode,
        code: err.code,
        message: err.message,
      });
    }
    const known = fromFastify(err);
    if (known) return reply.status(known.statusCode).send(known);
    request.log.error({ err }, "unhandled error");
    return reply.status(500).send({ statusCode: 500, code: "INTERNAL", message: "internal error; see the server log" });
  });

  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({ statusCode: 404, code: "NOT_FOUND", message: `no route ${request.method} ${request.url}` }),
  );
}

export default fp(errorHandler, { name: "error-handler" });
