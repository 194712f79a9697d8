/**
 * The import boundaries of ledger-api/src, in the spirit of Trillian Tessera's forbidden-function test: every import
 * of every file is parsed (static, re-export and dynamic, type-only ones included) and each rule below fails on the
 * first file that crosses it, naming the file and the import. docs/ARCHITECTURE.md "Modules" explains the rules.
 */
import { expect } from "chai";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import ts from "typescript";

const SRC = path.resolve(import.meta.dirname, "../../ledger-api/src");

/** The files at the top of src/ compose the app; no folder depends on them (route files may name their types). */
const COMPOSITION_ROOT = ["app.ts", "main.ts", "services.ts", "config.ts"];

/** The log's math: what a verifier needs of log/, with no appender, sequencer or store behind it. */
const LOG_MATH = ["log/hash.ts", "log/merkle.ts", "log/entry.ts", "log/keccak.ts"];

/**
 * What each folder may import besides itself: a folder name allows all of it, a path only that file. Listed bottom
 * up; a folder not listed here fails the test until it is placed.
 */
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  gs1: [],
  log: [],
  protocol: ["gs1", ...LOG_MATH],
  store: ["log", "protocol"],
  http: [],
  chain: ["protocol", "log", "store", "http"],
  ingest: ["protocol", "log", "store", "http"],
  client: ["protocol", "gs1", "epcis/mapping.ts", "epcis/output.ts"],
  verify: ["protocol", "gs1", ...LOG_MATH],
  query: ["protocol", "log", "store", "http", "gs1", "chain/contracts.ts"],
  web: ["query", "verify", "protocol", "store", "http", "gs1", "chain/contracts.ts", "market"],
  demo: ["chain", "client", "protocol", "gs1"],
  // The market screens' data: a projection of the log, the recall reach, the safety centre's figures, the displays'
  // views and their live updates; its pages are web/'s.
  market: ["protocol", "log", "store", "http", "gs1", "query", "chain/contracts.ts"],
  // The EPCIS interface: its mapping and output stay free of the store and HTTP so the client can ship them.
  epcis: ["protocol", "gs1", "store", "http", "ingest", "query", "chain/contracts.ts"],
};

/** The browser bundles' entry points (web/bundle.ts WEB_BUNDLES): everything they reach runs in a browser. */
const BROWSER_ENTRIES = ["verify/browser.ts", "web/shopper-client.ts", "web/stall-client.ts", "web/market-client.ts"];

interface Import {
  /** The importing file, relative to src/. */
  readonly from: string;
  /** The specifier as written. */
  readonly specifier: string;
  /** The imported file relative to src/, for a relative specifier. */
  readonly target: string | undefined;
  readonly typeOnly: boolean;
}

function sourceFiles(dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const full = path.join(dir, d.name);
    if (d.isDirectory()) return sourceFiles(full);
    return d.name.endsWith(".ts") ? [path.relative(SRC, full).split(path.sep).join("/")] : [];
  });
}

function importsOf(file: string): Import[] {
  const text = readFileSync(path.join(SRC, file), "utf8");
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out: Import[] = [];
  const add = (specifier: string, typeOnly: boolean): void => {
    const target = specifier.startsWith(".")
      ? path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier))
      : undefined;
    out.push({ from: file, specifier, target, typeOnly });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      add(node.moduleSpecifier.text, node.importClause?.isTypeOnly ?? false);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      add(node.moduleSpecifier.text, node.isTypeOnly);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      if (arg && ts.isStringLiteralLike(arg)) add(arg.text, false);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      add(node.argument.literal.text, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

const folderOf = (file: string): string | undefined => (file.includes("/") ? file.split("/")[0] : undefined);

/** A file that registers an HTTP route: route files are composed by app.ts alone. */
function isRouteFile(file: string): boolean {
  const text = readFileSync(path.join(SRC, file), "utf8");
  return /\b\w+\.(get|post|put|patch|delete|head|route)\(\s*["'`]\//.test(text);
}

function allowed(from: string, target: string): boolean {
  const folder = folderOf(from);
  const to = folderOf(target);
  // The composition root has a rule of its own below.
  if (folder === undefined || to === undefined || folder === to) return true;
  const rules = ALLOWED[folder] ?? [];
  return rules.includes(target) || rules.includes(to);
}

/** The cycles of a graph given as adjacency sets, each as the list of its nodes. */
function cycles(graph: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const walk = (node: string): void => {
    state.set(node, "open");
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === "open") found.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) walk(next);
    }
    stack.pop();
    state.set(node, "done");
  };
  for (const node of graph.keys()) if (!state.has(node)) walk(node);
  return found;
}

const describeImport = (i: Import): string => `${i.from} imports ${i.specifier}`;

describe("import boundaries of ledger-api/src", function () {
  const files = sourceFiles();
  const imports = files.flatMap(importsOf);
  const local = imports.filter((i) => i.target !== undefined) as (Import & { target: string })[];

  it("finds the source files and their imports", function () {
    expect(files).to.include.members(["app.ts", "verify/verify.ts", "protocol/typed-data.ts"]);
    expect(local.length).to.be.above(100);
  });

  it("places every folder of src/ in the table of allowed imports", function () {
    const folders = [...new Set(files.map(folderOf).filter((f): f is string => f !== undefined))].sort();
    expect(folders.filter((f) => !(f in ALLOWED))).to.deep.equal([]);
  });

  it("lets each folder import only the folders and files the table allows it", function () {
    expect(local.filter((i) => !allowed(i.from, i.target)).map(describeImport)).to.deep.equal([]);
  });

  it("keeps the verifier to protocol/, gs1/ and the log's math, so a third party can see what it trusts", function () {
    const verify = local.filter((i) => i.from.startsWith("verify/") && !i.target.startsWith("verify/"));
    const outside = verify.filter((i) => !i.target.startsWith("protocol/") && !i.target.startsWith("gs1/") && !LOG_MATH.includes(i.target));
    expect(outside.map(describeImport)).to.deep.equal([]);
  });

  it("keeps protocol/ a leaf: it imports only gs1/ and the log's math", function () {
    const protocol = local.filter((i) => i.from.startsWith("protocol/") && !i.target.startsWith("protocol/"));
    expect(protocol.filter((i) => !i.target.startsWith("gs1/") && !LOG_MATH.includes(i.target)).map(describeImport)).to.deep.equal([]);
  });

  it("lets only app.ts import a route file", function () {
    const routeFiles = new Set(files.filter(isRouteFile));
    expect(routeFiles.size).to.be.above(5);
    expect(local.filter((i) => routeFiles.has(i.target) && i.from !== "app.ts").map(describeImport)).to.deep.equal([]);
  });

  it("lets no folder depend on the composition root, but for the types a route file is given", function () {
    const routeFiles = new Set(files.filter(isRouteFile));
    const upward = local.filter((i) => folderOf(i.from) !== undefined && COMPOSITION_ROOT.includes(i.target));
    expect(upward.filter((i) => !(i.typeOnly && routeFiles.has(i.from))).map(describeImport)).to.deep.equal([]);
  });

  it("has no cycle between folders, in the code or in the table", function () {
    const graph = new Map<string, Set<string>>();
    for (const i of local) {
      const [a, b] = [folderOf(i.from), folderOf(i.target)];
      if (a === undefined || b === undefined || a === b) continue;
      graph.set(a, (graph.get(a) ?? new Set()).add(b));
    }
    expect(cycles(graph).map((c) => c.join(" -> "))).to.deep.equal([]);
    const table = new Map(Object.entries(ALLOWED).map(([f, deps]) => [f, new Set(deps.map((d) => d.split("/")[0]!))]));
    expect(cycles(table).map((c) => c.join(" -> "))).to.deep.equal([]);
  });

  /** Every file the browser bundles reach (type-only imports are erased), and every import those files make. */
  function browserReach(): { reached: Set<string>; importsOfReached: Import[] } {
    const byFile = new Map<string, Import[]>();
    for (const i of imports) byFile.set(i.from, [...(byFile.get(i.from) ?? []), i]);
    const reached = new Set<string>();
    const visit = (file: string): void => {
      if (reached.has(file)) return;
      reached.add(file);
      for (const i of byFile.get(file) ?? []) if (i.target !== undefined && !i.typeOnly) visit(i.target);
    };
    BROWSER_ENTRIES.forEach(visit);
    return { reached, importsOfReached: [...reached].flatMap((f) => byFile.get(f) ?? []).filter((i) => !i.typeOnly) };
  }

  it("carries no Node module into the browser bundles", function () {
    const { reached, importsOfReached } = browserReach();
    expect(reached.has("verify/verify.ts")).to.equal(true);
    const node = importsOfReached.filter((i) => /^node:|^(fs|path|crypto|os|worker_threads)$/.test(i.specifier));
    expect(node.map(describeImport)).to.deep.equal([]);
  });

  it("keeps GS1's AI table and code lists out of the browser bundles: a page reads batch paths with gs1/link-path.ts", function () {
    const { reached, importsOfReached } = browserReach();
    expect(reached.has("gs1/link-path.ts")).to.equal(true);
    const tableFiles = ["gs1/ai-table.ts", "gs1/ai-values.ts", "gs1/pairing.ts", "gs1/compression.ts", "gs1/digital-link.ts"];
    expect(tableFiles.filter((f) => reached.has(f))).to.deep.equal([]);
    const packages = importsOfReached.filter((i) => /^(digital-link\.js|i18n-iso-countries|currency-codes)(\/|$)/.test(i.specifier));
    expect(packages.map(describeImport)).to.deep.equal([]);
  });
});
