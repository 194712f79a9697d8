/**
 * Refusals a caller can act on: an HTTP status, a stable machine-readable `code`, and a human message.
 *
 * Every refusal the service makes goes through ApiError so the body shape is one thing clients handle:
 *   { "statusCode": 409, "code": "RULE_VIOLATION", "message": "...", "rule": "...", "index": 0 }
 * `code` values are part of the API: never rename one, add new ones instead.
 */
import { Type, type Static } from "typebox";

export const ErrorCode = {
  SCHEMA_VIOLATION: 400,
  INVALID_IDENTIFIER: 400,
  DOC_INCONSISTENT: 422,
  EPCIS_SCHEMA_VIOLATION: 400,
  EPCIS_NOT_REPRESENTABLE: 400,
  SIGNATURE_EXPIRED: 400,
  BAD_SIGNATURE: 401,
  SIGNER_LACKS_ROLE: 403,
  UNKNOWN_BATCH: 404,
  NOT_FOUND: 404,
  NONCE_REUSED: 409,
  RULE_VIOLATION: 409,
  BODY_TOO_LARGE: 413,
  TOO_MANY_EVENTS: 413,
  RATE_LIMITED: 429,
  OVERLOADED: 503,
  CHAIN_UNAVAILABLE: 503,
  INTERNAL: 500,
} as const;
export type ErrorCode = keyof typeof ErrorCode;

export class ApiError extends Error {
  override readonly name = "ApiError";
  readonly statusCode: number;
  readonly code: ErrorCode;
  /** Extra machine-readable detail: the broken rule, the offending event's index, the missing role... */
  readonly details: Record<string, string | number | boolean>;

  constructor(code: ErrorCode, message: string, details: Record<string, string | number | boolean> = {}) {
    super(message);
    this.code = code;
    this.statusCode = ErrorCode[code];
    this.details = details;
  }
}

export const ErrorBody = Type.Object(
  {
    statusCode: Type.Integer(),
    code: Type.String(),
    message: Type.String(),
    rule: Type.Optional(Type.String()),
    index: Type.Optional(Type.Integer({ description: "position of the offending event in the request" })),
    role: Type.Optional(Type.String()),
  },
  { $id: "Error", title: "Error", additionalProperties: true },
);
export type ErrorBody = Static<typeof ErrorBody>;
