/**
 * EPCIS-style refusals: RFC 7807 problem details as the EPCIS 2.0 REST binding writes them (`type` is an
 * `epcisException:` term), carrying the ledger's stable `code` (http/errors.ts) and, for a capture, which event
 * (`eventIndex`, 0-based in eventList) and which field (`pointer`, a JSON pointer into the EPCIS document) failed.
 */
import { Type, type Static } from "typebox";
import { ApiError, ErrorCode } from "../http/errors.ts";

export const Problem = Type.Object(
  {
    type: Type.String({ description: "epcisException:ValidationException, SecurityException, NoSuchResourceException, ..." }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String({ description: "the ledger's stable error code (README, API)" }),
    eventIndex: Type.Optional(Type.Integer({ description: "0-based position of the failing event in eventList" })),
    pointer: Type.Optional(Type.String({ description: "JSON pointer of the failing field in the submitted document" })),
    rule: Type.Optional(Type.String({ description: "the contract rule a refused event breaks" })),
    role: Type.Optional(Type.String({ description: "the role the signer lacks" })),
  },
  { $id: "EpcisProblem", title: "EpcisProblem", additionalProperties: true },
);
export type Problem = Static<typeof Problem>;

const TITLES: Readonly<Record<string, string>> = {
  "epcisException:ValidationException": "The EPCIS document is not valid for this ledger",
  "epcisException:SecurityException": "The event's signature does not authorise it",
  "epcisException:NoSuchResourceException": "No such resource",
  "epcisException:QueryParameterException": "The query's parameters are not valid",
  "epcisException:CaptureLimitExceededException": "The capture document is too large",
  "epcisException:ImplementationException": "The ledger could not complete the request",
};

/** The EPCIS exception type a ledger error code is reported as. */
function exceptionOf(code: ErrorCode): string {
  switch (code) {
    case "BAD_SIGNATURE":
    case "SIGNER_LACKS_ROLE":
    case "SIGNATURE_EXPIRED":
      return "epcisException:SecurityException";
    case "NOT_FOUND":
    case "UNKNOWN_BATCH":
      return "epcisException:NoSuchResourceException";
    case "BODY_TOO_LARGE":
    case "TOO_MANY_EVENTS":
      return "epcisException:CaptureLimitExceededException";
    case "INTERNAL":
    case "OVERLOADED":
    case "CHAIN_UNAVAILABLE":
      return "epcisException:ImplementationException";
    default:
      return "epcisException:ValidationException";
  }
}

export function problem(
  code: ErrorCode,
  detail: string,
  extra: { eventIndex?: number; pointer?: string; rule?: string; role?: string; type?: string } = {},
): Problem {
  const type = extra.type ?? exceptionOf(code);
  return {
    type,
    title: TITLES[type] ?? "Refused",
    status: ErrorCode[code],
    detail,
    code,
    ...(extra.eventIndex !== undefined ? { eventIndex: extra.eventIndex } : {}),
    ...(extra.pointer !== undefined ? { pointer: extra.pointer } : {}),
    ...(extra.rule !== undefined ? { rule: extra.rule } : {}),
    ...(extra.role !== undefined ? { role: extra.role } : {}),
  };
}

/** A refusal answered as `application/problem+json` by the EPCIS routes. */
export class ProblemError extends Error {
  override readonly name = "ProblemError";
  readonly problem: Problem;
  constructor(p: Problem) {
    super(p.detail);
    this.problem = p;
  }
}

/** An ingest refusal (ApiError with `index`) as a problem naming the captured event it came from. */
export function problemOfApiError(err: ApiError, pointerOfEvent?: (index: number) => string): Problem {
  const index = typeof err.details.index === "number" ? err.details.index : undefined;
  const signatureCodes: readonly string[] = ["BAD_SIGNATURE", "SIGNER_LACKS_ROLE", "SIGNATURE_EXPIRED", "NONCE_REUSED"];
  const pointer =
    index !== undefined && pointerOfEvent
      ? pointerOfEvent(index) + (signatureCodes.includes(err.code) ? "/ledger:signature" : "")
      : undefined;
  return problem(err.code, err.message, {
    ...(index !== undefined ? { eventIndex: index } : {}),
    ...(pointer !== undefined ? { pointer } : {}),
    ...(typeof err.details.rule === "string" ? { rule: err.details.rule } : {}),
    ...(typeof err.details.role === "string" ? { role: err.details.role } : {}),
  });
}
