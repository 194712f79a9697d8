/**
 * GET /epcis/events: the EPCIS 2.0 REST binding's event query with the common SimpleEventQuery parameters, answered
 * from the query index (store/epcis-store.ts), never by reading bodies that do not match.
 *
 * Parameters (each list is comma-separated and means "any of"; all given parameters must hold):
 *   eventType            ObjectEvent, TransformationEvent
 *   EQ_bizStep           CBV words ("shipping") or their GS1 URIs (https://ref.gs1.org/cbv/BizStep-shipping), or
 *                        ledger terms ("ledger:applying_pesticide")
 *   EQ_bizLocation       GLNs as https://id.gs1.org/414/{gln} or SGLN URNs with extension 0
 *   GE_eventTime, LT_eventTime   RFC 3339 times
 *   MATCH_anyEPC, MATCH_anyEPCClass   lots, as Digital Links (id.gs1.org or this resolver) or LGTIN URNs; both
 *                        match a lot wherever an event names it (the ledger's EPCs are all class-level)
 *   perPage              1..1000 (default 100); nextPageToken from the previous page's Link header
 * Results come in log order. A page token carries the last log index served and a digest of the query it belongs to,
 * so it resumes exactly after that event and is refused with another query.
 */
import { createHash } from "node:crypto";
import { Gs1Error } from "../gs1/keys.ts";
import type { EpcisFilter } from "../store/store.ts";
import { glnLocation, lotOfEpc } from "./mapping.ts";
import { problem, ProblemError } from "./problem.ts";

export const QUERY_PARAMETERS = [
  "eventType",
  "EQ_bizStep",
  "EQ_bizLocation",
  "GE_eventTime",
  "LT_eventTime",
  "MATCH_anyEPC",
  "MATCH_anyEPCClass",
  "perPage",
  "nextPageToken",
] as const;
export type QueryParameters = Partial<Record<(typeof QUERY_PARAMETERS)[number], string>>;

export const DEFAULT_PER_PAGE = 100;
export const MAX_PER_PAGE = 1000;
const MAX_VALUES = 100;
const BIZ_STEP_URI = "https://ref.gs1.org/cbv/BizStep-";

function refuse(parameter: string, detail: string): never {
  throw new ProblemError(
    problem("SCHEMA_VIOLATION", `${parameter}: ${detail}`, { type: "epcisException:QueryParameterException", pointer: `/${parameter}` }),
  );
}

function list(parameter: string, value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const values = value.split(",").map((v) => v.trim());
  if (values.some((v) => v === "")) refuse(parameter, "an empty value in the list");
  if (values.length > MAX_VALUES) refuse(parameter, `at most ${MAX_VALUES} values`);
  return values;
}

function time(parameter: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9]{2}:[0-9]{2})$/i.test(value) ? Date.parse(value) : NaN;
  if (!Number.isFinite(ms)) refuse(parameter, `${value} is not an RFC 3339 time with an offset`);
  return ms;
}

function location(value: string): string {
  if (/^https:\/\/id\.gs1\.org\/414\/[0-9]{13}$/.test(value)) return value;
  const sgln = /^urn:epc:id:sgln:([0-9]+)\.([0-9]*)\.0$/.exec(value);
  if (sgln && (sgln[1] as string).length + (sgln[2] as string).length === 12) {
    const body = (sgln[1] as string) + (sgln[2] as string);
    let sum = 0;
    for (let i = 0; i < 12; i++) sum += Number(body[11 - i]) * (i % 2 === 0 ? 3 : 1);
    return glnLocation(body + String((10 - (sum % 10)) % 10));
  }
  return refuse("EQ_bizLocation", `${value} is not a GLN location (https://id.gs1.org/414/{gln} or urn:epc:id:sgln:...)`);
}

export interface ParsedQuery {
  readonly filter: EpcisFilter;
  readonly perPage: number;
  /** Digest of the filter, which a page token must carry. */
  readonly digest: string;
}

export function parseQuery(q: QueryParameters, resolverBase: string): ParsedQuery {
  const eventTypes = list("eventType", q.eventType);
  for (const t of eventTypes ?? []) {
    if (!["ObjectEvent", "AggregationEvent", "TransformationEvent", "TransactionEvent", "AssociationEvent"].includes(t)) {
      refuse("eventType", `${t} is not an EPCIS event type`);
    }
  }
  const bizSteps = list("EQ_bizStep", q.EQ_bizStep)?.map((s) => (s.startsWith(BIZ_STEP_URI) ? s.slice(BIZ_STEP_URI.length) : s));
  const bizLocations = list("EQ_bizLocation", q.EQ_bizLocation)?.map(location);
  const epcs = [...(list("MATCH_anyEPC", q.MATCH_anyEPC) ?? []), ...(list("MATCH_anyEPCClass", q.MATCH_anyEPCClass) ?? [])];
  const lots =
    q.MATCH_anyEPC === undefined && q.MATCH_anyEPCClass === undefined
      ? undefined
      : epcs.map((epc) => {
          try {
            return lotOfEpc(epc, { resolverBase }).batchId;
          } catch (err) {
            if (err instanceof Gs1Error) {
              return refuse(q.MATCH_anyEPC?.includes(epc) ? "MATCH_anyEPC" : "MATCH_anyEPCClass", `${err.message} (the ledger's EPCs are lots)`);
            }
            throw err;
          }
        });
  const geEventTime = time("GE_eventTime", q.GE_eventTime);
  const ltEventTime = time("LT_eventTime", q.LT_eventTime);
  let perPage = DEFAULT_PER_PAGE;
  if (q.perPage !== undefined) {
    perPage = /^[0-9]{1,4}$/.test(q.perPage) ? Number(q.perPage) : 0;
    if (perPage < 1 || perPage > MAX_PER_PAGE) refuse("perPage", `an integer from 1 to ${MAX_PER_PAGE}`);
  }
  const filter: EpcisFilter = {
    ...(eventTypes ? { eventTypes } : {}),
    ...(bizSteps ? { bizSteps } : {}),
    ...(bizLocations ? { bizLocations } : {}),
    ...(lots ? { lots } : {}),
    ...(geEventTime !== undefined ? { geEventTime } : {}),
    ...(ltEventTime !== undefined ? { ltEventTime } : {}),
  };
  const digest = createHash("sha256").update(JSON.stringify(filter)).digest("base64url").slice(0, 16);
  const afterIndex = q.nextPageToken === undefined ? undefined : readToken(q.nextPageToken, digest);
  return { filter: afterIndex === undefined ? filter : { ...filter, afterIndex }, perPage, digest };
}

export function pageToken(afterIndex: number, digest: string): string {
  return `${afterIndex.toString(36)}.${digest}`;
}

function readToken(token: string, digest: string): number {
  const m = /^([0-9a-z]{1,12})\.([A-Za-z0-9_-]{16})$/.exec(token);
  if (!m) refuse("nextPageToken", "not a page token of this ledger");
  if (m[2] !== digest) refuse("nextPageToken", "the token belongs to a query with other parameters; repeat them unchanged");
  return Number.parseInt(m[1] as string, 36);
}
