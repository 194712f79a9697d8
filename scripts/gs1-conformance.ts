/**
 * Runs GS1's own conformance vectors against our GS1 code and reports, for every vector, whether our verdict is
 * GS1's, and where it is not, which deliberate deviation of README "GS1 Digital Link" explains it. Run locally: the
 * vectors are read at run time from snapshots of GS1's repositories (git directories, e.g. what the workplace's
 * fetch tool brings) and are never copied into this repository.
 *
 *   node scripts/gs1-conformance.ts --syntax-engine <git dir of gs1/gs1-syntax-engine> \
 *     --syntax-dictionary <git dir of gs1/gs1-syntax-dictionary> --digital-link-js <git dir of gs1/digital-link.js> \
 *     [--verbose]
 *
 * Reads:
 *   gs1-syntax-engine   src/c-lib/dl.c, test_dl_parseDLuri: Digital Link URIs, GS1's verdict and AI element string
 *   gs1-syntax-dictionary  gs1-syntax-dictionary.txt (which AIs GS1 defines today) and src/lint_*.c unit tests
 *   digital-link.js     tests/index.js, the Compression suite: URIs and their compressed forms
 * Exits 1 when a difference is left that no deviation explains.
 */
import { execFileSync } from "node:child_process";
import { parseArgs } from "node:util";
import { aiEntry, aiTable } from "../ledger-api/src/gs1/ai-table.ts";
import { checkAiValue } from "../ledger-api/src/gs1/ai-values.ts";
import { compressDigitalLink, linkAis, parseDigitalLink, type DigitalLink } from "../ledger-api/src/gs1/digital-link.ts";
import { Gs1Error } from "../ledger-api/src/gs1/keys.ts";

const { values: args } = parseArgs({
  options: {
    "syntax-engine": { type: "string" },
    "syntax-dictionary": { type: "string" },
    "digital-link-js": { type: "string" },
    verbose: { type: "boolean", default: false },
  },
});

interface Snapshot {
  readonly repo: string;
  readonly gitDir: string;
  readonly commit: string;
  readonly date: string;
}

function snapshot(repo: string, gitDir: string | undefined): Snapshot {
  if (!gitDir) throw new Error(`give the git directory of ${repo} (see the usage at the top of this script)`);
  const [commit = "", date = ""] = execFileSync("git", ["--git-dir", gitDir, "log", "-1", "--format=%H %cs"], {
    encoding: "utf8",
  })
    .trim()
    .split(" ");
  return { repo, gitDir, commit, date };
}

function read(s: Snapshot, path: string): string {
  return execFileSync("git", ["--git-dir", s.gitDir, "show", `${s.commit}:${path}`], {
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
}

function list(s: Snapshot, dir: string): string[] {
  return execFileSync("git", ["--git-dir", s.gitDir, "ls-tree", "--name-only", s.commit, `${dir}/`], { encoding: "utf8" })
    .split("\n")
    .filter((l) => l !== "");
}

// ---------------------------------------------------------------------------------------------------------------
// Reading GS1's C tests: tokens (string literals concatenated, comments dropped), enough for their test macros

type Token = { kind: "string" | "word" | "punct"; value: string };

function unescapeC(body: string): string {
  return body.replace(/\\(x[0-9A-Fa-f]{1,2}|[0-7]{1,3}|.)/g, (_, e: string) => {
    if (e[0] === "x") return String.fromCharCode(parseInt(e.slice(1), 16));
    if (/^[0-7]/.test(e)) return String.fromCharCode(parseInt(e, 8));
    return ({ n: "\n", t: "\t", r: "\r" } as Record<string, string>)[e] ?? e;
  });
}

function tokenizeC(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === "/" && text[i + 1] === "/") {
      i = text.indexOf("\n", i);
      if (i === -1) break;
    } else if (c === "/" && text[i + 1] === "*") {
      i = text.indexOf("*/", i) + 2;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (text[j] !== c) j += text[j] === "\\" ? 2 : 1;
      if (c === "'") tokens.push({ kind: "punct", value: text.slice(i, j + 1) });
      else {
        const value = unescapeC(text.slice(i + 1, j));
        const last = tokens.at(-1);
        if (last?.kind === "string") last.value += value;
        else tokens.push({ kind: "string", value });
      }
      i = j + 1;
    } else if (/[A-Za-z0-9_]/.test(c)) {
      let j = i;
      while (j < text.length && /[A-Za-z0-9_]/.test(text[j]!)) j++;
      tokens.push({ kind: "word", value: text.slice(i, j) });
      i = j;
    } else {
      if (!/\s/.test(c)) tokens.push({ kind: "punct", value: c });
      i++;
    }
  }
  return tokens;
}

/** The arguments of the call whose "(" is at tokens[open], each as its tokens. */
function callArgs(tokens: readonly Token[], open: number): { args: Token[][]; end: number } {
  const out: Token[][] = [[]];
  let depth = 0;
  for (let i = open; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind === "punct" && t.value === "(") {
      if (depth++ === 0) continue;
    } else if (t.kind === "punct" && t.value === ")") {
      if (--depth === 0) return { args: out, end: i };
    } else if (t.kind === "punct" && t.value === "," && depth === 1) {
      out.push([]);
      continue;
    }
    out.at(-1)!.push(t);
  }
  throw new Error("unbalanced call in GS1's C source");
}

// ---------------------------------------------------------------------------------------------------------------
// Outcome bookkeeping

interface Section {
  readonly name: string;
  agree: number;
  explained: Map<string, number>;
  unexplained: string[];
  notCompared: Map<string, number>;
}

function section(name: string): Section {
  return { name, agree: 0, explained: new Map(), unexplained: [], notCompared: new Map() };
}

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

function verdict(uri: string): { link?: DigitalLink; error?: string } {
  try {
    return { link: parseDigitalLink(uri) };
  } catch (err) {
    if (!(err instanceof Gs1Error)) throw err;
    return { error: err.message };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// 1. Digital Link parsing: gs1-syntax-engine's test_dl_parseDLuri

interface ParseVector {
  readonly uri: string;
  readonly valid: boolean;
  readonly elementString: string;
  readonly options: Readonly<Record<string, boolean>>;
}

function parseVectors(text: string): ParseVector[] {
  const start = text.indexOf("void test_dl_parseDLuri(void)");
  const tokens = tokenizeC(text.slice(start, text.indexOf("#undef test_parseDLuri", start)));
  const options: Record<string, boolean> = {};
  const out: ParseVector[] = [];
  const bool = (t: Token | undefined): boolean => t?.value === "true";
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind !== "word") continue;
    if (t.value === "permitConvenienceAlphas" && tokens[i + 1]?.value === "=") {
      options.permitConvenienceAlphas = bool(tokens[i + 2]);
    } else if (t.value === "gs1_encoder_setPermitZeroSuppressedGTINinDLuris" && tokens[i + 1]?.value === "(") {
      options.permitZeroSuppressedGtin = bool(callArgs(tokens, i + 1).args[1]?.[0]);
    } else if (t.value === "gs1_encoder_setPermitUnknownAIs" && tokens[i + 1]?.value === "(") {
      options.permitUnknownAIs = bool(callArgs(tokens, i + 1).args[1]?.[0]);
    } else if (t.value === "gs1_encoder_setValidationEnabled" && tokens[i + 1]?.value === "(") {
      const a = callArgs(tokens, i + 1).args;
      if (a[1]?.[0]?.value === "gs1_encoder_vUNKNOWN_AI_NOT_DL_ATTR") options.unknownAiAsAttribute = !bool(a[2]?.[0]);
    } else if (t.value === "test_parseDLuri" && tokens[i + 1]?.value === "(") {
      const { args: a, end } = callArgs(tokens, i + 1);
      i = end;
      if (a.length !== 3 || a[1]?.[0]?.kind !== "string") continue; // the macro's own definition
      out.push({ uri: a[1][0].value, valid: bool(a[0]?.[0]), elementString: a[2]?.[0]?.value ?? "", options: { ...options } });
    }
  }
  return out;
}

/** GS1's unbracketed element string ("^" = FNC1) as AI/value pairs, AI lengths and fixed lengths from our table. */
function elementPairs(text: string): [string, string][] | undefined {
  const pairs: [string, string][] = [];
  let rest = text.replace(/^\^/, "");
  while (rest !== "") {
    if (rest.startsWith("^")) {
      rest = rest.slice(1);
      continue;
    }
    const ai = [2, 3, 4].map((n) => rest.slice(0, n)).find((a) => aiEntry(a) !== undefined);
    if (ai === undefined) return undefined; // an AI our table does not have
    const entry = aiEntry(ai)!;
    const fixed = entry.fixedLength ? entry.components.reduce((n, c) => n + c.max, 0) : undefined;
    const end = fixed !== undefined ? ai.length + fixed : rest.includes("^") ? rest.indexOf("^") : rest.length;
    pairs.push([ai, rest.slice(ai.length, end)]);
    rest = rest.slice(end);
  }
  return pairs.sort(([a], [b]) => (a < b ? -1 : 1));
}

const PRIMARY_ALPHAS: Readonly<Record<string, string>> = { gtin: "01", sscc: "00", gln: "414", giai: "8004", grai: "8003" };

/** The primary key a link's path is keyed by, read as GS1 does (the rightmost key AI followed by a value). */
function pathKey(uri: string): string | undefined {
  const segments = (/^[a-z]+:\/\/[^/]*(\/[^?#]*)/i.exec(uri)?.[1] ?? "").split("/");
  for (let i = segments.length - 2; i >= 0; i--) {
    const ai = PRIMARY_ALPHAS[segments[i]!] ?? segments[i]!;
    if (/^[0-9]{2,4}$/.test(ai) && (aiEntry(ai)?.role === "primary key" || ai === "417")) return ai;
  }
  return undefined;
}

/** The numeric AIs of a URI's query string. */
function queryAis(uri: string): string[] {
  const query = uri.split("#", 1)[0]!.split("?")[1] ?? "";
  return query
    .split("&")
    .map((p) => p.split("=", 1)[0]!)
    .filter((k) => /^[0-9]+$/.test(k));
}

/** The README deviation that explains a different verdict on this vector, or undefined. */
function parseDeviation(v: ParseVector, error: string | undefined): string | undefined {
  const key = pathKey(v.uri);
  const unknown = [...queryAis(v.uri), ...(/\/01\/[0-9]+\/([0-9]{2,4})\//.exec(v.uri)?.slice(1) ?? [])].filter(
    (ai) => aiEntry(ai) === undefined,
  );
  if (v.valid && key !== undefined && key !== "01") return "a primary key other than GTIN is refused";
  if (v.valid && /\/01\/[0-9]+\/235\//.test(v.uri)) return "the TPX key qualifier (235) is refused";
  if (v.valid && (v.options.permitUnknownAIs || v.options.unknownAiAsAttribute) && unknown.length > 0) {
    return "unknown AIs are refused, as GS1 does by default (its permit options are not offered)";
  }
  if (v.valid && unknown.length > 0) return "AIs the toolkit's table lacks are refused as unknown";
  if (v.valid && error !== undefined && /primary key and cannot qualify a GTIN/.test(error)) {
    return "a second primary key in the query is refused";
  }
  if (!v.valid && !v.options.permitConvenienceAlphas && /\/(gtin|cpv|lot|ser)\//.test(v.uri)) {
    return "the deprecated convenience alphas are accepted";
  }
  if (!v.valid && !v.options.permitZeroSuppressedGtin && /\/(01|gtin)\/([0-9]{8}|[0-9]{12,13})(\/|$|\?|#)/.test(v.uri)) {
    return "GTIN-8/12/13 are accepted and normalised to GTIN-14";
  }
  if (!v.valid && /^[a-z]*[A-Z]/.test(v.uri.split(":", 1)[0] ?? "")) return "a mixed-case scheme is accepted (RFC 3986)";
  if (!v.valid && queryAis(v.uri).some((ai) => ai === "8200" || ai === "8020")) {
    return "AIs the toolkit types as data attributes are accepted as such (8200)";
  }
  return undefined;
}

function runParse(text: string): Section {
  const out = section("Digital Link parsing");
  for (const v of parseVectors(text)) {
    const { link, error } = verdict(v.uri);
    const same = (link !== undefined) === v.valid;
    if (same && link !== undefined) {
      const theirs = elementPairs(v.elementString);
      const ours = linkAis(link).sort(([a], [b]) => (a < b ? -1 : 1));
      if (theirs !== undefined && JSON.stringify(ours) !== JSON.stringify(theirs)) {
        out.unexplained.push(`${v.uri}: GS1 reads ${v.elementString}, we ${JSON.stringify(ours)}`);
        continue;
      }
    }
    if (same) {
      out.agree++;
      continue;
    }
    const deviation = parseDeviation(v, error);
    if (deviation !== undefined) bump(out.explained, deviation);
    else out.unexplained.push(`${JSON.stringify(v.uri)}: GS1 ${v.valid ? "accepts" : "refuses"}, we ${error ?? "accept"}`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// 2. Value checks: the unit tests of the linters in gs1-syntax-dictionary, where one AI of ours takes the whole
//    value through the same rule

/** A GS1 linter whose whole input is one AI's whole value here. */
const LINTER_AIS: Readonly<Record<string, string>> = {
  iso3166: "422",
  yymmd0: "17",
  yymmdd: "7006",
  iban: "8007",
  csumalpha: "8013",
  cset82: "91",
};

function runLinters(s: Snapshot): Section {
  const out = section("value checks (linter unit tests)");
  for (const file of list(s, "src").filter((f) => /\/lint_[a-z0-9]+\.c$/.test(f))) {
    const linter = /lint_([a-z0-9]+)\.c$/.exec(file)![1]!;
    const text = read(s, file);
    const tokens = tokenizeC(text.slice(text.indexOf("#ifdef UNIT_TESTS")));
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!;
      if (t.kind !== "word" || (t.value !== "UNIT_TEST_PASS" && t.value !== "UNIT_TEST_FAIL")) continue;
      if (tokens[i + 1]?.value !== "(") continue;
      const { args: a, end } = callArgs(tokens, i + 1);
      i = end;
      const data = a[1];
      if (data?.length !== 1 || data[0]!.kind !== "string") continue; // data built at run time
      const ai = LINTER_AIS[linter];
      if (ai === undefined) {
        bump(out.notCompared, linter);
        continue;
      }
      // A GMN's check pair is checked here; GS1 also looks its company prefix up, which its tests fake.
      if (linter === "csumalpha" && /GCP/.test(a[2]?.map((x) => x.value).join("") ?? "")) {
        bump(out.notCompared, "csumalpha (company prefix look-up)");
        continue;
      }
      const valid = t.value === "UNIT_TEST_PASS";
      let ours: string | undefined;
      try {
        checkAiValue(ai, data[0]!.value);
      } catch (err) {
        if (!(err instanceof Gs1Error)) throw err;
        ours = err.message;
      }
      if ((ours === undefined) === valid) out.agree++;
      else if (linter === "csumalpha" && data[0]!.value.length > 25) bump(out.explained, "a GMN over 25 characters is refused (GS1's format check refuses it too; its linter alone does not)");
      else if (linter === "csumalpha" && data[0]!.value.length < 3) {
        bump(out.explained, "a GMN of its check pair alone is refused (GS1's company prefix check refuses it too)");
      } else if (data[0]!.value === "") bump(out.explained, "an empty value is no AI value (GS1's parser refuses it too)");
      else out.unexplained.push(`${linter}(${JSON.stringify(data[0]!.value)}) via AI ${ai}: GS1 ${valid ? "passes" : "fails"}, we ${ours ?? "pass"}`);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// 3. Which AIs GS1's dictionary defines that the toolkit's table (ours) lacks

function runDictionary(s: Snapshot): { defined: number; missing: string[]; notAttribute: string[] } {
  const defined: string[] = [];
  const notAttribute: string[] = [];
  for (const line of read(s, "gs1-syntax-dictionary.txt").split("\n")) {
    const m = /^([0-9]{2,4})(?:-([0-9]{2,4}))?\s+(\S*)/.exec(line);
    if (!m) continue;
    const [, from = "", to = from, flags = ""] = m;
    for (let n = Number(from); n <= Number(to); n++) {
      const ai = String(n).padStart(from.length, "0");
      defined.push(ai);
      if (!flags.includes("?") && aiEntry(ai)?.role === "data attribute") notAttribute.push(ai);
    }
  }
  return { defined: defined.length, missing: defined.filter((ai) => aiEntry(ai) === undefined), notAttribute };
}

// ---------------------------------------------------------------------------------------------------------------
// 4. Compression: digital-link.js's Compression suite

interface CompressionVector {
  readonly description: string;
  readonly uncompressed: string;
  readonly compressed: string;
  readonly direction: "compress" | "decompress";
  readonly useSequences: boolean;
  readonly compressOther: boolean;
}

function compressionVectors(text: string): CompressionVector[] {
  const suite = text.slice(text.indexOf("describe('Compression'"), text.indexOf("describe('Utils'"));
  const out: CompressionVector[] = [];
  for (const m of suite.matchAll(/it\('([^']+)',\s*\(\)\s*=>\s*\{([\s\S]*?)\n  \}\);/g)) {
    const [, description = "", body = ""] = m;
    const input = /const input = '([^']+)'/.exec(body)?.[1];
    const expected = /const expected = '([^']+)'/.exec(body)?.[1];
    if (input === undefined || expected === undefined) continue;
    if (/decompressWebUri\(input, true\)/.test(body)) continue; // short-text output: a style of writing, not data
    const decompressing = /decompressWebUri/.test(body);
    out.push({
      description,
      uncompressed: decompressing ? expected : input,
      compressed: decompressing ? input : expected,
      direction: decompressing ? "decompress" : "compress",
      useSequences: !/useOptimisations = false/.test(body),
      compressOther: !/compressOtherKeyValuePairs = false/.test(body),
    });
  }
  return out;
}

function runCompression(text: string): Section {
  const out = section("compression");
  for (const v of compressionVectors(text)) {
    try {
      if (v.direction === "compress") {
        const ours = compressDigitalLink(v.uncompressed, { useSequences: v.useSequences, compressOtherParameters: v.compressOther });
        if (ours === v.compressed) out.agree++;
        else out.unexplained.push(`${v.description}: GS1 ${v.compressed}, we ${ours}`);
      } else {
        const [ours, theirs] = [parseDigitalLink(v.compressed), parseDigitalLink(v.uncompressed)];
        const same = JSON.stringify([linkAis(ours), ours.params, ours.linkType]) === JSON.stringify([linkAis(theirs), theirs.params, theirs.linkType]);
        if (same) out.agree++;
        else out.unexplained.push(`${v.description}: ${v.compressed} reads as ${JSON.stringify(linkAis(ours))}`);
      }
    } catch (err) {
      if (!(err instanceof Gs1Error)) throw err;
      const deviation = parseDeviation({ uri: v.uncompressed, valid: true, elementString: "", options: {} }, err.message);
      if (deviation !== undefined) bump(out.explained, deviation);
      else out.unexplained.push(`${v.description}: we refuse: ${err.message}`);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------

const engine = snapshot("gs1/gs1-syntax-engine", args["syntax-engine"]);
const dictionary = snapshot("gs1/gs1-syntax-dictionary", args["syntax-dictionary"]);
const dljs = snapshot("gs1/digital-link.js", args["digital-link-js"]);

const sections = [
  runParse(read(engine, "src/c-lib/dl.c")),
  runLinters(dictionary),
  runCompression(read(dljs, "tests/index.js")),
];
const ais = runDictionary(dictionary);

console.log(`GS1 conformance run, ${new Date().toISOString().slice(0, 10)}`);
for (const s of [engine, dictionary, dljs]) console.log(`  ${s.repo} at ${s.commit} (${s.date})`);
for (const s of sections) {
  const explained = [...s.explained.values()].reduce((a, b) => a + b, 0);
  const total = s.agree + explained + s.unexplained.length;
  console.log(`\n${s.name}: ${total} vectors; ${s.agree} agree with GS1, ${explained} differ as a deviation says, ${s.unexplained.length} differ unexplained`);
  for (const [why, n] of s.explained) console.log(`  deviation (${n}): ${why}`);
  for (const [what, n] of s.notCompared) console.log(`  not compared (${n}): ${what}`);
  for (const line of args.verbose ? s.unexplained : s.unexplained.slice(0, 20)) console.log(`  UNEXPLAINED ${line}`);
}
console.log(`\nAIs: GS1's dictionary defines ${ais.defined}; our table (the digital-link.js toolkit) has ${aiTable().size}; ` +
  `${ais.missing.length} are missing from it: ${ais.missing.join(" ")}`);
console.log(`Typed as data attributes by the toolkit but not permitted in a Digital Link by GS1: ${ais.notAttribute.join(" ")}`);
if (sections.some((s) => s.unexplained.length > 0)) process.exitCode = 1;
