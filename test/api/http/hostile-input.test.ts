/**
 * Hostile input never gets a 5xx, every refusal carries a code of the one table with that code's status, and a
 * refused POST stores nothing. A seeded property test: valid signed events of every kind, mutated at a random field
 * (wrong types, huge and tiny numbers, odd unicode, times before 1970, addresses with a wrong checksum, deep
 * nesting, removed and extra fields), some signed again so the signature holds; JSON text with duplicate keys, huge
 * number literals, deep nesting, bad UTF-8; every route of the OpenAPI document (and the hidden ones) with hostile
 * path ids, query strings and headers; /rpc with hostile JSON-RPC; and the POST routes (the EPCIS capture too) with
 * mutated bodies. A failure prints the seed and the request, so
 * it replays: HOSTILE_SEED=<seed> HOSTILE_RUNS=<n> npx hardhat test mocha test/api/http/hostile-input.test.ts.
 */
import { expect } from "chai";
import type { InjectOptions } from "fastify";
import { signEvent } from "../../../ledger-api/src/client/client.ts";
import { formatDigitalLink } from "../../../ledger-api/src/gs1/digital-link.ts";
import { ERROR_CODES, isErrorCode } from "../../../ledger-api/src/http/errors.ts";
import type { DemoActorName } from "../../../ledger-api/src/demo/story.ts";
import type { EventDoc, SignedEvent } from "../../../ledger-api/src/protocol/documents.ts";
import { Rng } from "../ingest/fixtures.ts";
import { startLedger, type Ledger } from "../harness.ts";

const SEED = Number(process.env.HOSTILE_SEED ?? 20261113);
const RUNS = Number(process.env.HOSTILE_RUNS ?? 1000);

const GTIN = "08801234000017";
const IMPORT_GTIN = "09300012000014";

function hoursAgo(h: number): string {
  return new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - h * 3_600_000).toISOString().replace(".000Z", "Z");
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const STRINGS: readonly string[] = [
  "",
  " ",
  "0",
  "-1",
  "1e309",
  "NaN",
  "null",
  "true",
  "0x",
  "0x" + "f".repeat(64),
  "0x" + "F".repeat(40),
  "0x" + "0".repeat(40),
  "%",
  "%00",
  "%E0%A4%A",
  "%2F01%2F08801234000017%2F10%2FJJ-1",
  "/01/08801234000017/10/JJ-1",
  "https://example.org/01/08801234000017/10/JJ-1",
  "https://example.org/01/08801234000018/10/JJ-1",
  "../../etc/passwd",
  "..%2F..%2F",
  "' OR 1=1 --",
  "\"; DROP TABLE log_entries; --",
  "__proto__",
  "constructor",
  "prototype",
  "\u0000",
  "\ud800",
  "\udfff\ud800",
  "\u202e\u202d",
  "\ufeff",
  "\u200b",
  "e\u0301",
  "한국어 라벨",
  "中文",
  "🍊".repeat(30),
  "\r\n\r\nX-Injected: 1",
  "<script>alert(1)</script>",
  "${7*7}",
  "1969-12-31T23:59:59Z",
  "1900-01-01",
  "0001-01-01T00:00:00Z",
  "0000-01-01T00:00:00Z",
  "9999-12-31T23:59:59Z",
  "2016-12-31T23:59:60Z",
  "2026-02-30T00:00:00Z",
  "2026-13-01",
  "2026-11-15t05:00:00z",
  "2026-11-15T05:00:00+14:00",
  "1970-01-01T00:00:00-00:01",
];

const NUMBERS: readonly number[] = [
  0,
  -0,
  -1,
  1,
  1.5,
  -1.5,
  0.1,
  2 ** 31,
  2 ** 32,
  2 ** 48,
  2 ** 48 + 1,
  2 ** 53,
  2 ** 53 + 2,
  2 ** 63,
  2 ** 64,
  1e15,
  1e15 + 1,
  1e21,
  1e300,
  -1e300,
  Number.MAX_VALUE,
  Number.MIN_VALUE,
  5e-324,
];

class Hostile {
  readonly rng: Rng;
  constructor(rng: Rng) {
    this.rng = rng;
  }

  string(): string {
    const r = this.rng;
    switch (r.int(0, 5)) {
      case 0: {
        // Random code points, lone surrogates and controls included.
        let s = "";
        const n = r.int(1, 60);
        for (let i = 0; i < n; i++) s += String.fromCharCode(r.chance(0.3) ? r.int(0, 0x1f) : r.int(0, 0xffff));
        return s;
      }
      case 1:
        return r.pick(["a", "%", "€", "🍊", "/"]).repeat(r.pick([121, 501, 2049, 10_000, 100_000]));
      default:
        return r.pick(STRINGS);
    }
  }

  number(): number {
    return this.rng.chance(0.8) ? this.rng.pick(NUMBERS) : (this.rng.next() - 0.5) * 10 ** this.rng.int(0, 30);
  }

  address(): string {
    const r = this.rng;
    const hex = [...Array(40)].map(() => "0123456789abcdefABCDEF"[r.int(0, 21)]).join("");
    return r.pick([`0x${hex}`, `0X${hex}`, `0x${hex.slice(1)}`, `0x${hex}0`, "0x" + "0".repeat(40)]);
  }

  deep(depth: number): Json {
    let v: Json = this.rng.chance(0.5) ? [] : {};
    for (let i = 0; i < depth; i++) v = this.rng.chance(0.5) ? [v] : { a: v };
    return v;
  }

  value(depth = 0): Json {
    const r = this.rng;
    switch (r.int(0, 9)) {
      case 0:
        return null;
      case 1:
        return r.chance(0.5);
      case 2:
      case 3:
        return this.number();
      case 4:
      case 5:
        return this.string();
      case 6:
        return this.address();
      case 7:
        return depth > 2 ? [] : [...Array(r.int(0, 4))].map(() => this.value(depth + 1));
      case 8:
        return depth > 2 ? {} : Object.fromEntries([...Array(r.int(0, 4))].map(() => [this.string(), this.value(depth + 1)]));
      default:
        return this.deep(r.pick([10, 100, 1000]));
    }
  }

  /** A path segment or query value: hostile text or a hostile number, percent-encoded or raw. */
  segment(): string {
    const r = this.rng;
    if (r.chance(0.2)) return r.pick([String(this.number()), BigInt(2) ** BigInt(r.pick([53, 63, 64, 256])) + "", "-" + r.int(1, 9)]);
    const s = this.string();
    if (r.chance(0.6)) {
      try {
        return encodeURIComponent(s);
      } catch {
        // A lone surrogate cannot be encoded; sent raw as escapes below.
      }
    }
    return [...s].map((c) => (/^[A-Za-z0-9\-._~%]$/.test(c) ? c : encodeURIComponent(c.replace(/[\ud800-\udfff]/g, "x")))).join("");
  }
}

/** Every path of a JSON value, as key lists. */
function paths(value: Json, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [prefix];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...paths(v, [...prefix, i])));
  else if (value !== null && typeof value === "object") for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...prefix, k]));
  return out;
}

function mutate(h: Hostile, event: Json): Json {
  const copy = structuredClone(event) as Json;
  const all = paths(copy).filter((p) => p.length > 0);
  const path = h.rng.pick(all);
  const parent = path.slice(0, -1).reduce<Json>((v, k) => (v as Record<string | number, Json>)[k] as Json, copy) as Record<string | number, Json>;
  const key = path[path.length - 1] as string | number;
  const name = String(key);
  const old = parent[key];
  // Half the time a hostile value of the same JSON type, which the schema may let through to the later checks.
  if (h.rng.chance(0.5) && old !== null && typeof old !== "object") {
    if (/At$|Date$/.test(name)) parent[key] = h.rng.pick(STRINGS.filter((x) => /^\d{4}-/.test(x)));
    else if (["signer", "to", "from"].includes(name)) parent[key] = h.address();
    else if (typeof old === "string") parent[key] = h.rng.chance(0.5) ? h.string() : h.rng.pick(STRINGS);
    else if (typeof old === "number") parent[key] = h.number();
    else parent[key] = !old;
    return copy;
  }
  switch (h.rng.int(0, 6)) {
    case 0:
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key];
      break;
    case 1:
      if (!Array.isArray(parent)) parent[h.rng.pick(["extra", "__proto__", "constructor", name + "_"])] = h.value();
      else parent.push(h.value());
      break;
    case 2:
      parent[key] = /At$|Date$/.test(name) ? h.rng.pick(STRINGS.filter((s) => /^\d{4}-/.test(s))) : h.value();
      break;
    case 3:
      parent[key] = ["signer", "to", "from"].includes(name) ? h.address() : h.value();
      break;
    case 4:
      parent[key] = [parent[key] as Json];
      break;
    default:
      parent[key] = h.value();
  }
  return copy;
}

/** JSON text no JSON.stringify writes. */
function hostileText(h: Hostile, event: Json): string | Buffer {
  const text = JSON.stringify(event);
  const r = h.rng;
  switch (r.int(0, 7)) {
    case 0:
      // Duplicate keys: the first copy valid, the second hostile (or the other way round).
      return r.chance(0.5) ? text.replace(/^\{/, `{"doc":${JSON.stringify(h.value())},`) : text.replace(/\}$/, `,"signer":${JSON.stringify(h.address())}}`);
    case 1:
      return text.replace(/"deadline":\d+/, `"deadline":1${"0".repeat(r.pick([20, 400]))}`);
    case 2:
      return "[".repeat(r.pick([1000, 100_000])) + "]".repeat(r.pick([0, 1000]));
    case 3:
      return "\ufeff" + text;
    case 4:
      return Buffer.concat([Buffer.from(text.slice(0, 20)), Buffer.from([0xff, 0xfe, 0xc0, 0x80]), Buffer.from(text.slice(20))]);
    case 5:
      return text + r.pick(["", "x", "]", "\u0000", "{}"]);
    case 6:
      return text.slice(0, r.int(0, text.length));
    default:
      return `{"doc":${text},"doc":${text}}`;
  }
}

interface Snapshot {
  readonly size: number;
  readonly root: string;
  readonly relay: number;
}

describe("hostile input", function () {
  this.timeout(600_000);
  let ledger: Ledger;
  let valid: SignedEvent[] = [];
  const actorOf = new Map<string, DemoActorName>();
  let routes: { method: "GET" | "POST"; path: string; query: string[] }[] = [];

  async function snapshot(): Promise<Snapshot> {
    const { store } = ledger.services;
    const cp = await store.checkpoint();
    return { size: cp.size, root: Buffer.from(cp.root).toString("hex"), relay: (await store.relayRows("pending")).length };
  }

  /** Sends `options`; asserts no 5xx and a table code at its status on any JSON refusal; returns the status. */
  async function send(what: string, options: InjectOptions): Promise<number> {
    const res = await ledger.app.inject(options);
    const sent = options.payload === undefined ? "" : ` ${(typeof options.payload === "string" || Buffer.isBuffer(options.payload) ? String(options.payload) : JSON.stringify(options.payload)).slice(0, 600)}`;
    const shown = `seed ${SEED}, ${what}: ${options.method} ${String(options.url).slice(0, 300)}${sent} -> ${res.statusCode} ${res.body.slice(0, 300)}`;
    expect(res.statusCode, shown).to.be.below(500);
    if (res.statusCode >= 400 && /json/.test(String(res.headers["content-type"]))) {
      const body = res.json() as { code?: unknown; statusCode?: unknown; status?: unknown };
      expect(isErrorCode(body.code), shown).to.equal(true);
      expect(res.statusCode, shown).to.equal(ERROR_CODES[body.code as keyof typeof ERROR_CODES].status);
      // The EPCIS routes answer RFC 7807 problem details, whose status field is `status`.
      const problem = /problem\+json/.test(String(res.headers["content-type"]));
      expect(problem ? body.status : body.statusCode, shown).to.equal(res.statusCode);
    }
    return res.statusCode;
  }

  /** POSTs a body; a refusal must leave the log and the relay's queue as they were. */
  async function post(what: string, url: string, payload: string | Buffer | object, headers: Record<string, string> = {}): Promise<void> {
    const before = await snapshot();
    const status = await send(what, { method: "POST", url, payload, headers: { "content-type": "application/json", ...headers } });
    if (status >= 400 && url === "/v1/events") expect(await snapshot(), `seed ${SEED}, ${what}: stored something on ${status}`).to.deep.equal(before);
  }

  before(async function () {
    ledger = await startLedger();
    const { actors } = ledger.chain;
    for (const [name, wallet] of Object.entries(actors)) actorOf.set(wallet.address.toLowerCase(), name as DemoActorName);
    const a = (n: DemoActorName) => actors[n].address;
    const lot = { gtin: GTIN, lot: "HX-1" };
    const beef = { gtin: IMPORT_GTIN, lot: "HX-2" };
    const registered: EventDoc = {
      kind: "Registered",
      batch: lot,
      occurredAt: hoursAgo(30),
      product: "Jeju Hallabong tangerines",
      origin: { country: "KR", region: "Jeju-do", farm: { name: "Orchard 3", gln: "8801234000055" } },
      harvestDate: hoursAgo(40).slice(0, 10),
      quantity: { value: 1200, unit: "kg" },
      imported: false,
    };
    const importDoc: EventDoc = { ...registered, batch: beef, imported: true, origin: { country: "AU", region: "NSW", farm: { name: "Riverina" } } };
    // Logged for real, so hostile events meet known batches and hostile reads meet real entries.
    for (const [actor, doc] of [
      ["cooperative", registered],
      ["importer", importDoc],
    ] as const) {
      expect((await ledger.post(await ledger.sign(actor, doc))).statusCode).to.equal(202);
    }
    await ledger.sync();
    const docs: [DemoActorName, EventDoc][] = [
      ["cooperative", { ...registered, batch: { gtin: GTIN, lot: "HX-3" } }],
      ["cooperative", { kind: "PesticideApplied", batch: lot, occurredAt: hoursAgo(20), substance: { name: "Imidacloprid", casNumber: "138261-41-3" }, dose: { value: 0.25, unit: "L/10a" }, preHarvestIntervalDays: 21, field: "orchard 3" }],
      ["lab", { kind: "Inspected", batch: lot, occurredAt: hoursAgo(19), lab: { name: "Lab", gln: "8801234000062" }, method: "LC-MS/MS", sampleId: "S-1", analytes: [{ name: "Imidacloprid", casNumber: "138261-41-3", value: 0.03, limit: 1, unit: "mg/kg" }], passed: true }],
      ["importer", { kind: "CustomsCleared", batch: beef, occurredAt: hoursAgo(18), declarationNumber: "12345-26-0098765X", hsCode: "020130", originCountry: "AU", portOfEntry: "KRPUS" }],
      ["cooperative", { kind: "HandOffOffered", batch: lot, occurredAt: hoursAgo(17), to: a("wholesaler"), reference: "DN-1" }],
      ["wholesaler", { kind: "HandOffAccepted", batch: lot, occurredAt: hoursAgo(16), from: a("cooperative") }],
      ["cooperative", { kind: "HandOffCancelled", batch: lot, occurredAt: hoursAgo(16), to: a("wholesaler") }],
      ["cooperative", { kind: "Split", batch: lot, occurredAt: hoursAgo(15), children: [{ gtin: GTIN, lot: "HX-1a", quantity: { value: 200, unit: "kg" } }, { gtin: GTIN, lot: "HX-1b", quantity: { value: 1000, unit: "kg" } }] }],
      ["cooperative", { kind: "Merged", batch: { gtin: GTIN, lot: "HX-M" }, occurredAt: hoursAgo(15), parents: [lot, { gtin: GTIN, lot: "HX-3" }] }],
      ["regulator", { kind: "Recalled", batch: lot, occurredAt: hoursAgo(14), reason: "residue", reference: "R-1" }],
      ["cooperative", { kind: "Observed", batch: lot, occurredAt: hoursAgo(13), readings: [{ type: "Temperature", value: 8.5, unit: "Cel" }], location: { name: "Stall", gln: "8801234000086" }, attachment: { hash: "0x" + "ab".repeat(32), mediaType: "image/jpeg", uri: "https://example.org/a.jpg" }, note: "ok" }],
    ];
    valid = await Promise.all(docs.map(([actor, doc]) => ledger.sign(actor, doc)));

    const openapi = (await ledger.app.inject({ method: "GET", url: "/docs/json" })).json() as {
      paths: Record<string, Record<string, { parameters?: { in: string; name: string }[] }>>;
    };
    for (const [path, methods] of Object.entries(openapi.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        if (method !== "get" && method !== "post") continue;
        routes.push({ method: method.toUpperCase() as "GET" | "POST", path, query: (op.parameters ?? []).filter((p) => p.in === "query").map((p) => p.name) });
      }
    }
    // Hidden from the document, served all the same.
    routes.push({ method: "GET", path: "/01/{gtin}", query: ["linkType", "lang"] }, { method: "GET", path: "/metrics", query: [] });
    expect(routes.map((r) => r.path)).to.include.members(["/v1/events", "/v1/batches/{id}/provenance", "/v1/batches/{id}/qr.png", "/01/{gtin}/10/{lot}", "/rpc"]);
  });
  after(async function () {
    await ledger?.close();
  });

  it(`answers ${RUNS} mutated signed events without a 5xx, storing nothing on a refusal`, async function () {
    const h = new Hostile(new Rng(SEED));
    for (let run = 0; run < RUNS; run++) {
      const base = h.rng.pick(valid);
      let event = mutate(h, base as unknown as Json) as unknown as SignedEvent;
      if (h.rng.chance(0.5) && event !== null && typeof event === "object" && typeof event.doc === "object") {
        // Signed again over the mutated document, so the signature holds and the later checks are reached.
        const actor = actorOf.get(String(base.signer).toLowerCase());
        try {
          const again = await signEvent(ledger.chain.actors[actor as DemoActorName], ledger.chain.domain, event.doc as EventDoc);
          event = { ...event, signature: again.signature, nonce: again.nonce, deadline: again.deadline } as SignedEvent;
        } catch {
          // The client refuses to sign it: it goes out with the old signature.
        }
      }
      // Alone, or after a valid event (a request is logged whole or not at all).
      const body = h.rng.chance(0.7) ? event : [h.rng.pick(valid), event];
      await post(`run ${run}`, "/v1/events", body as object);
      if (run % 50 === 0) await ledger.sync();
    }
  });

  it(`answers ${RUNS} hostile JSON texts and envelopes without a 5xx, storing nothing`, async function () {
    const h = new Hostile(new Rng(SEED + 1));
    for (let run = 0; run < RUNS; run++) {
      const event = h.rng.pick(valid) as unknown as Json;
      const headers: Record<string, string> = h.rng.chance(0.2)
        ? { "content-type": h.rng.pick(["text/plain", "application/json; charset=latin1", "application/x-www-form-urlencoded", "application/json-patch+json", ""]) }
        : {};
      await post(`text ${run}`, "/v1/events", hostileText(h, event), headers);
    }
  });

  it(`answers ${RUNS} hostile requests to every route (path ids, query strings, headers, /rpc bodies) without a 5xx`, async function () {
    const h = new Hostile(new Rng(SEED + 2));
    const known = [
      encodeURIComponent(formatDigitalLink("https://example.org", { gtin: GTIN, lot: "HX-1" })),
      "0x" + "ab".repeat(32),
      "0",
      "1",
      ledger.chain.actors.cooperative.address,
    ];
    for (let run = 0; run < RUNS; run++) {
      const route = h.rng.pick(routes);
      const path = route.path.replace(/\{[^}]+\}/g, () => (h.rng.chance(0.3) ? h.rng.pick(known) : h.segment()));
      const names = [...route.query, ...(h.rng.chance(0.3) ? [h.segment()] : [])];
      const query = names
        .filter(() => h.rng.chance(0.7))
        .flatMap((n) => [...Array(h.rng.chance(0.1) ? 2 : 1)].map(() => `${n}=${h.segment()}`))
        .join("&");
      const url = query ? `${path}?${query}` : path;
      const headers: Record<string, string> = {};
      if (h.rng.chance(0.3)) headers.accept = h.rng.pick(["application/json", "text/html", "application/linkset+json", "image/png", "*/*;q=0", h.string().replace(/[^\x20-\x7e]/g, "")]);
      if (h.rng.chance(0.3)) headers["accept-language"] = h.rng.pick(["ko", "zh-CN,zh;q=0.9", "*", "xx;q=abc", h.string().replace(/[^\x20-\x7e]/g, "")]);
      if (h.rng.chance(0.1)) headers["if-none-match"] = h.string().replace(/[^\x20-\x7e]/g, "");
      if (route.method === "GET") {
        await send(`route ${run}`, { method: "GET", url, headers });
      } else if (route.path === "/rpc") {
        const call = () => ({
          jsonrpc: h.rng.chance(0.8) ? "2.0" : h.value(),
          id: h.rng.chance(0.8) ? h.rng.int(0, 100) : h.value(),
          method: h.rng.pick(["eth_call", "eth_chainId", "eth_getTransactionReceipt", "eth_blockNumber", "eth_sendRawTransaction", "anvil_reset", h.string()]),
          params: h.rng.chance(0.5)
            ? [{ to: h.rng.pick([ledger.chain.deployments.ledger, ledger.chain.deployments.anchor, h.address()]), data: h.rng.pick(["0x", "0x12345678", "0x" + "ff".repeat(h.rng.int(0, 300)), h.string()]) }, h.value()]
            : [h.value(), h.value()],
        });
        await post(`rpc ${run}`, "/rpc", h.rng.chance(0.3) ? [...Array(h.rng.int(1, 5))].map(call) : call());
      } else {
        await post(`route ${run}`, url, mutate(h, h.rng.pick(valid) as unknown as Json) as object);
      }
    }
  });
});
