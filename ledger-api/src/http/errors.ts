/**
 * Refusals a caller can act on: an HTTP status, a stable machine-readable `code`, and a human message.
 *
 * Every refusal the service makes, its own or Fastify's or Node's HTTP parser's, is answered with one body shape:
 *   { "statusCode": 409, "code": "RULE_VIOLATION", "message": "...", "rule": "...", "index": 0 }
 * and its `code` is a row of ERROR_CODES, with that row's status. The README's table of codes is this table
 * (test/api/http/error-codes.test.ts compares them; `node scripts/error-codes.ts` rewrites the README's copy).
 * `code` values are part of the API: never rename one, add new ones instead.
 */
import { Type, type Static } from "typebox";

interface CodeRow {
  readonly status: number;
  /** When the code is given, in words a submitter can act on (the README's table shows it). */
  readonly when: string;
}

export const ERROR_CODES = {
  SCHEMA_VIOLATION: {
    status: 400,
    when: "the body, query string or a path parameter does not match the route's JSON Schema (a missing, unknown or mistyped field, a pattern, a length), or a time or date field (`occurredAt`, `harvestDate`) is before 1970-01-01 (+ `field`)",
  },
  MALFORMED_JSON: { status: 400, when: "the body is not JSON" },
  MALFORMED_REQUEST: {
    status: 400,
    when: "HTTP the server cannot read: a bad request line or header, a bad percent-escape in the URL, a Content-Length the body does not match, a compressed body that does not decompress",
  },
  INVALID_IDENTIFIER: { status: 400, when: "a GTIN, lot or Digital Link the GS1 rules refuse (check digit, character set, length)" },
  INVALID_ADDRESS: {
    status: 400,
    when: "an address (`signer`, `to`, `from`, `/v1/actors/{address}`) written in mixed case whose EIP-55 checksum is wrong; all-lower-case and all-upper-case hex are accepted (+ `field`)",
  },
  EPCIS_SCHEMA_VIOLATION: { status: 400, when: "`POST /epcis/capture`: GS1's EPCIS 2.0 schema refuses the document (+ `pointer`)" },
  EPCIS_NOT_REPRESENTABLE: {
    status: 400,
    when: "`POST /epcis/capture`: an EPCIS event or document the ledger cannot hold exactly (see EPCIS 2.0) (+ `pointer`)",
  },
  SIGNATURE_EXPIRED: { status: 400, when: "the signature's `deadline` has passed (a resubmission of a logged event still gets its receipt)" },
  BAD_SIGNATURE: { status: 401, when: "the signature is malformed, not canonical (high s, v not 27/28) or not the signer's" },
  SIGNER_LACKS_ROLE: { status: 403, when: "the signer does not hold the role the event's kind needs (+ `role`)" },
  OBSERVER_NOT_PARTY: {
    status: 403,
    when: "an `Observed` event whose signer is neither the lot's custodian, the receiver of its open hand-off offer, an inspector nor the regulator",
  },
  RECALL_ACK_NOT_CUSTODIAN: {
    status: 403,
    when: "a recall acknowledgement (an `Observed` event with a `RecallAcknowledged` reading) signed by someone other than the lot's custodian",
  },
  UNKNOWN_BATCH: { status: 404, when: "the batch is not registered (a well-formed reference the ledger does not know)" },
  UNKNOWN_STALL: { status: 404, when: "no retail stall (of this market, for the safety centre's routes) has this GLN or address" },
  NOT_RECALLED: { status: 404, when: "`GET /v1/recalls/{id}/reach` of a lot under no recall, neither its own nor inherited" },
  NOT_FOUND: { status: 404, when: "no such route, log entry, event, actor, link type or bundle" },
  NOT_ACCEPTABLE: { status: 406, when: "the resolver cannot answer in any media type the `Accept` header allows" },
  REQUEST_TIMEOUT: { status: 408, when: "the request's headers or body did not arrive within `HEADERS_TIMEOUT_MS` / `REQUEST_TIMEOUT_MS`; the connection is closed" },
  NONCE_REUSED: { status: 409, when: "the signer already used this nonce for another event, of any kind, in the log or on chain" },
  RECALL_ACK_NOT_RECALLED: {
    status: 409,
    when: "a recall acknowledgement for a lot under no recall, or naming an event that is not the `Recalled` event of the lot or of a lot it was made from",
  },
  RULE_VIOLATION: { status: 409, when: "the contract would refuse the event (+ `rule`, the contract's error name, e.g. `NotCustodian`)" },
  BODY_TOO_LARGE: { status: 413, when: "the body is over `BODY_LIMIT` bytes" },
  TOO_MANY_EVENTS: { status: 413, when: "more than `MAX_EVENTS_PER_REQUEST` events in one POST" },
  ID_TOO_LONG: { status: 414, when: "a batch `{id}` longer than any valid one (2,048 characters decoded)" },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, when: "the body is not `application/json`, or its Content-Encoding is not one the server decompresses" },
  DOC_INCONSISTENT: { status: 422, when: "the document contradicts itself (a passed test over its limit, split units that differ, an impossible time)" },
  RATE_LIMITED: { status: 429, when: "this client address spent its `/rpc` budget for the minute (`Retry-After`)" },
  OBSERVATION_BUDGET_EXCEEDED: {
    status: 429,
    when: "the signer recorded `OBSERVATIONS_PER_LOT_PER_DAY` observations of this lot in the last 24 hours (`Retry-After`)",
  },
  HEADERS_TOO_LARGE: { status: 431, when: "the request's headers are over Node's limit (16 KiB); the connection is closed" },
  INTERNAL: { status: 500, when: "a fault of the server, never of the input; logged, and the body reveals nothing internal" },
  OVERLOADED: {
    status: 503,
    when:
      "the server is shedding load: an admission gate's queue is full, the request could not start within `ADMISSION_MAX_WAIT_MS`, the process is under pressure, or too many stall displays are connected; nothing of the request was done (`Retry-After`; see Under load)",
  },
  CHAIN_UNAVAILABLE: { status: 503, when: "the chain node cannot be reached" },
} as const satisfies Record<string, CodeRow>;
export type ErrorCode = keyof typeof ERROR_CODES;

/** Each code's HTTP status. */
export const ErrorCode = Object.freeze(
  Object.fromEntries(Object.entries(ERROR_CODES).map(([code, row]) => [code, row.status])),
) as { readonly [C in ErrorCode]: (typeof ERROR_CODES)[C]["status"] };

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && Object.hasOwn(ERROR_CODES, code);
}

export class ApiError extends Error {
  override readonly name = "ApiError";
  readonly statusCode: number;
  readonly code: ErrorCode;
  /** Extra machine-readable detail: the broken rule, the offending event's index, the missing role... */
  readonly details: Record<string, string | number | boolean>;
  /** Response headers the refusal carries (Retry-After). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    code: ErrorCode,
    message: string,
    details: Record<string, string | number | boolean> = {},
    headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.code = code;
    this.statusCode = ErrorCode[code];
    this.details = details;
    this.headers = headers;
  }
}

/** The body of a refusal with `code`. */
export function errorBody(code: ErrorCode, message: string): ErrorBody {
  return { statusCode: ErrorCode[code], code, message };
}

/** The README's table of codes, as Markdown. */
export function errorCodesMarkdown(): string {
  const rows = Object.entries(ERROR_CODES).map(([code, row]) => `| \`${code}\` | ${row.status} | ${row.when} |`);
  return ["| code | status | when |", "|---|---:|---|", ...rows].join("\n");
}

const BEGIN = "<!-- error codes: generated from ledger-api/src/http/errors.ts by `node scripts/error-codes.ts` -->";
const END = "<!-- end of error codes -->";

/** `readme` with the table between its markers replaced by this table; throws if the markers are missing. */
export function readmeWithErrorCodes(readme: string): string {
  const begin = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  if (begin === -1 || end < begin) throw new Error(`the README has no "${BEGIN}" ... "${END}" section`);
  return `${readme.slice(0, begin + BEGIN.length)}\n${errorCodesMarkdown()}\n${readme.slice(end)}`;
}

export const ErrorBody = Type.Object(
  {
    statusCode: Type.Integer(),
    code: Type.String(),
    message: Type.String(),
    rule: Type.Optional(Type.String()),
    index: Type.Optional(Type.Integer({ description: "position of the offending event in the request" })),
    role: Type.Optional(Type.String()),
    field: Type.Optional(Type.String({ description: "the offending field, e.g. doc.occurredAt" })),
  },
  { $id: "Error", title: "Error", additionalProperties: true },
);
export type ErrorBody = Static<typeof ErrorBody>;
