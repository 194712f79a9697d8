/**
 * The one check of the answer's shape, at the verifier's entry: an answer that is not a provenance answer
 * (protocol/answer.ts) is failed as a whole, and every check after it reads typed fields instead of guarding each
 * one. The checkers are generated from the schema ahead of time (answer-check-source.ts), so the browser bundle
 * carries neither TypeBox nor code built at run time.
 */
import { checkBatch, checkChain, checkCompleteness, checkLineage, checkObservations, checkTimelineEntry } from "./answer-check.generated.ts";

type Checker = (value: unknown) => boolean;

/** Each top-level field of the answer (answer-check-source.ts ANSWER_PARTS) with its checker. */
const PARTS: readonly (readonly [string, Checker])[] = [
  ["batch", checkBatch],
  ["lineage", checkLineage],
  ["timeline", (timeline) => Array.isArray(timeline) && timeline.every((entry) => (checkTimelineEntry as Checker)(entry))],
  ["observations", checkObservations],
  ["chain", checkChain],
  ["completeness", checkCompleteness],
];

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/** Why `answer` is not a provenance answer (the fields that are missing or malformed), or undefined when it is one. */
export function answerShapeErrors(answer: unknown): string | undefined {
  if (!isRecord(answer)) return "not a JSON object";
  const wrong: string[] = [];
  for (const [field, check] of PARTS) {
    if (!(field in answer)) wrong.push(`${field} is missing`);
    else if (!check(answer[field])) wrong.push(`${field} is malformed`);
  }
  const timeline = answer.timeline;
  if (Array.isArray(timeline)) {
    const bad = timeline.findIndex((entry) => !(checkTimelineEntry as Checker)(entry));
    if (bad >= 0) wrong.push(`the first malformed timeline entry is #${bad}`);
  }
  return wrong.length === 0 ? undefined : wrong.join("; ");
}


/** Whether `entry` has a timeline entry's shape: each entry of an observation page is checked before it is used. */
export function isTimelineEntry(entry: unknown): boolean {
  return (checkTimelineEntry as Checker)(entry);
}
