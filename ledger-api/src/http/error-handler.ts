/**
 * One error shape for every refusal, and every refusal's code a row of errors.ts ERROR_CODES:
 * - our own refusals (ApiError) as thrown;
 * - Fastify's (schema validation, oversize body, malformed JSON, unsupported media type, a request body that does not
 *   decompress) translated here; any other 4xx Fastify or a plugin raises becomes MALFORMED_REQUEST, logged as a
 *   warning so it can get a row of its own;
 * - the router's (a bad percent-escape, a path parameter over the length limit), through `frameworkErrors`, a
 *   Fastify constructor option (app.ts);
 * - Node's HTTP parser's (a bad request line, headers over the size limit, a request or headers timeout), through
 *   `clientErrorHandler`, also a constructor option: written straight to the socket, which is then closed.
 * Anything unexpected becomes a logged 500 whose body reveals nothing internal. Bad input never produces a 5xx.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import { ApiError, ErrorCode, errorBody, type ErrorBody } from "./errors.ts";

/** Fastify's and its plugins' own error codes, by the row of the table they are answered with. */
const FASTIFY_CODES: Readonly<Record<string, ErrorCode>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: "BODY_TOO_LARGE",
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "UNSUPPORTED_MEDIA_TYPE",
  FST_CP_ERR_INVALID_CONTENT_ENCODING: "UNSUPPORTED_MEDIA_TYPE",
  FST_ERR_CTP_EMPTY_JSON_BODY: "SCHEMA_VIOLATION",
  FST_ERR_CTP_INVALID_JSON_BODY: "MALFORMED_JSON",
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: "MALFORMED_REQUEST",
  FST_CP_ERR_INVALID_CONTENT: "MALFORMED_REQUEST",
  FST_ERR_BAD_URL: "MALFORMED_REQUEST",
  FST_ERR_INVALID_URL: "MALFORMED_REQUEST",
  FST_ERR_MAX_PARAM_LENGTH: "ID_TOO_LONG",
  // @fastify/under-pressure's refusal, which sets its own Retry-After.
  FST_UNDER_PRESSURE: "OVERLOADED",
};

/** The row of the table a Fastify (or plugin) error is answered with, or undefined for one that is no refusal. */
export function fromFastify(err: FastifyError): { code: ErrorCode; message: string } | undefined {
  if (err.validation) {
    const first = err.validation[0];
    // The only path parameters with a length limit are batch ids (a Digital Link, decoded): the same refusal as the
    // router's for an id too long to read at all.
    if (err.validationContext === "params" && first?.keyword === "maxLength") {
      return { code: "ID_TOO_LONG", message: `params${first.instancePath} ${first.message ?? "is too long"}` };
    }
    const where = first ? `${err.validationContext ?? "body"}${first.instancePath}` : (err.validationContext ?? "body");
    return { code: "SCHEMA_VIOLATION", message: `${where} ${first?.message ?? "is invalid"}` };
  }
  const known = err.code === undefined ? undefined : FASTIFY_CODES[err.code];
  if (known === "ID_TOO_LONG") return { code: known, message: "the path parameter is longer than any valid batch id" };
  if (known) return { code: known, message: err.message };
  if (err instanceof SyntaxError || (err.statusCode === 400 && /JSON/i.test(err.message))) {
    return { code: "MALFORMED_JSON", message: err.message };
  }
  return undefined;
}

function send(reply: FastifyReply, code: ErrorCode, message: string, extra: Record<string, unknown> = {}): FastifyReply {
  const body: ErrorBody = { ...extra, ...errorBody(code, message) };
  return reply.status(body.statusCode).send(body);
}

/** Fastify's `frameworkErrors` option: the router's refusals, before any route or error handler runs. */
export function frameworkErrors(err: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const known = fromFastify(err);
  if (known) send(reply, known.code, known.message);
  else send(reply, "MALFORMED_REQUEST", err.message);
}

/** What Node's HTTP parser refused, as a row of the table. */
function clientErrorCode(err: NodeJS.ErrnoException): ErrorCode {
  if (err.code === "ERR_HTTP_REQUEST_TIMEOUT") return "REQUEST_TIMEOUT";
  if (err.code === "HPE_HEADER_OVERFLOW") return "HEADERS_TOO_LARGE";
  return "MALFORMED_REQUEST";
}

const CLIENT_ERROR_MESSAGES: Partial<Record<ErrorCode, string>> = {
  REQUEST_TIMEOUT: "the request did not arrive in time; the connection is closed",
  HEADERS_TOO_LARGE: "the request's headers are too large",
  MALFORMED_REQUEST: "the request is not valid HTTP/1.1",
};

/**
 * Fastify's `clientErrorHandler` option: a request Node's HTTP parser refused, or one that timed out, answered on the
 * raw socket (there is no request object) with the common body, then the connection closed.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  // A reset connection has no one to answer.
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  const code = clientErrorCode(err);
  const status = ErrorCode[code];
  const body = JSON.stringify(errorBody(code, CLIENT_ERROR_MESSAGES[code] ?? "bad request"));
  // Only when no response has begun on this socket: a half-written response must not be followed by another.
  const started = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
  if (socket.writable && !started) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/** The code of the table an error is answered with (for metrics; the handler below is what answers). */
export function refusalCode(err: FastifyError | ApiError): ErrorCode {
  if (err instanceof ApiError) return err.code;
  const known = fromFastify(err);
  if (known) return known.code;
  return err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 ? "MALFORMED_REQUEST" : "INTERNAL";
}

async function errorHandler(app: FastifyInstance): Promise<void> {
  app.setErrorHandler((err: FastifyError | ApiError, request, reply) => {
    if (err instanceof ApiError) {
      for (const [name, value] of Object.entries(err.headers)) reply.header(name, value);
      return send(reply, err.code, err.message, err.details);
    }
    const known = fromFastify(err);
    if (known) return send(reply, known.code, known.message);
    if (refusalCode(err) === "MALFORMED_REQUEST") {
      request.log.warn({ err }, "a refusal without a row in the table of codes (http/errors.ts)");
      return send(reply, "MALFORMED_REQUEST", err.message);
    }
    request.log.error({ err }, "unhandled error");
    return send(reply, "INTERNAL", "internal error; see the server log");
  });

  app.setNotFoundHandler((request, reply) => send(reply, "NOT_FOUND", `no route ${request.method} ${request.url}`));
}

export default fp(errorHandler, { name: "error-handler" });
