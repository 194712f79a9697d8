/**
 * The source of verify/answer-check.generated.ts: TypeBox's standalone checkers (typebox/compile `Code`) of the
 * provenance answer's six parts, generated from protocol/answer.ts ahead of time. The verifier runs them at its
 * entry; generated ahead of time, they carry neither TypeBox's schema builder nor its interpreter into the browser
 * bundle (Value.Check would add about 38 KB gzipped to verify.js), and run without `new Function`.
 *
 * `npm run build:answer-check` writes the file; test/api/verify/answer-check.test.ts fails when it is stale.
 */
import { Code } from "typebox/compile";
import type { TSchema } from "typebox";
import { Provenance } from "../protocol/answer.ts";

/** The answer's top-level fields, in the schema's order; the generated module checks each one. */
export const ANSWER_PARTS = ["batch", "lineage", "timeline", "observations", "chain", "completeness"] as const;

/** One standalone checker, as a function expression with its pattern table inlined. */
function checker(schema: TSchema): string {
  const { Code: code, External } = Code(schema);
  const patterns = External.variables.map((v) => {
    if (!(v instanceof RegExp)) throw new TypeError("the answer schema needs an external that is not a pattern");
    return v.toString();
  });
  const body = code
    .split("\n")
    .filter((line) => !/^import |^\/\/ @ts-ignore$|^let External = \[\]$|^export function SetExternal/.test(line) && line.trim() !== "")
    .map((line) => line.replace(/^export function Check\(value\)/, "function Check(value)"));
  return ["(() => {", `  const External = [${patterns.join(", ")}];`, ...body.map((l) => `  ${l}`), "  return Check;", "})()"].join("\n");
}

/** The generated module's text. */
export function answerCheckSource(): string {
  const props = Provenance.properties;
  if (Object.keys(props).join() !== ANSWER_PARTS.join() || (Provenance.required ?? []).join() !== ANSWER_PARTS.join()) {
    throw new Error(`the answer's fields are ${Object.keys(props).join(", ")}: update ANSWER_PARTS and answer-shape.ts`);
  }
  const parts: [string, TSchema][] = [
    ["checkBatch", props.batch],
    ["checkLineage", props.lineage],
    ["checkTimelineEntry", props.timeline.items],
    ["checkObservations", props.observations],
    ["checkChain", props.chain],
    ["checkCompleteness", props.completeness],
  ];
  return [
    "// Generated from protocol/answer.ts by `npm run build:answer-check` (verify/answer-check-source.ts): do not edit.",
    "// @ts-nocheck",
    "",
    ...parts.map(([name, schema]) => `export const ${name} = ${checker(schema)};\n`),
  ].join("\n");
}
