import { expect } from "chai";
import { keccak256, toUtf8Bytes } from "ethers";
import { CanonicalJsonError, canonicalJson, docHash } from "../../../ledger-api/src/protocol/canonical.ts";
import type { JsonObject, JsonValue } from "../../../ledger-api/src/protocol/canonical.ts";

/** The double whose IEEE 754 bits are `hex` (RFC 8785 Appendix B lists its test values this way). */
function fromBits(hex: string): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, BigInt("0x" + hex));
  return view.getFloat64(0);
}

/** Deterministic PRNG (mulberry32) so a failing property case can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KEY_ALPHABET = ["a", "b", "B", "1", "_", "é", "€", "\u{1F600}", "\r", "דּ", "z"];

function randomKey(rand: () => number): string {
  let k = "";
  const len = 1 + Math.floor(rand() * 4);
  for (let i = 0; i < len; i++) k += KEY_ALPHABET[Math.floor(rand() * KEY_ALPHABET.length)]!;
  return k;
}

function randomJson(rand: () => number, depth: number): JsonValue {
  const pick = Math.floor(rand() * (depth > 3 ? 5 : 7));
  switch (pick) {
    case 0:
      return null;
    case 1:
      return rand() < 0.5;
    case 2:
      return Math.round((rand() - 0.5) * 1e6) / (rand() < 0.5 ? 1 : 1000);
    case 3:
      return randomKey(rand) + " \"\\\n\u0001";
    case 4:
      return Math.floor(rand() * Number.MAX_SAFE_INTEGER);
    case 5:
      return Array.from({ length: Math.floor(rand() * 4) }, () => randomJson(rand, depth + 1));
    default: {
      const obj: Record<string, JsonValue> = {};
      const n = 1 + Math.floor(rand() * 5);
      for (let i = 0; i < n; i++) obj[randomKey(rand)] = randomJson(rand, depth + 1);
      return obj;
    }
  }
}

/** The same document with every object's members in a shuffled insertion order. */
function shuffleKeys(value: JsonValue, rand: () => number): JsonValue {
  if (Array.isArray(value)) return value.map((v: JsonValue) => shuffleKeys(v, rand));
  if (value === null || typeof value !== "object") return value;
  const entries = Object.entries(value as JsonObject);
  for (let i = entries.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [entries[i], entries[j]] = [entries[j]!, entries[i]!];
  }
  return Object.fromEntries(entries.map(([k, v]) => [k, shuffleKeys(v, rand)]));
}

/** Every leaf path of a document, so a property can change exactly one value. */
function leafPaths(value: JsonValue, path: (string | number)[] = []): (string | number)[][] {
  if (Array.isArray(value)) return value.flatMap((v: JsonValue, i: number) => leafPaths(v, [...path, i]));
  if (value !== null && typeof value === "object") {
    return Object.entries(value as JsonObject).flatMap(([k, v]) => leafPaths(v, [...path, k]));
  }
  return [path];
}

function withLeafChanged(doc: JsonValue, path: (string | number)[]): JsonValue {
  const copy = JSON.parse(JSON.stringify(doc)) as JsonValue;
  if (path.length === 0) return mutate(copy);
  let parent = copy as Record<string | number, JsonValue>;
  for (const step of path.slice(0, -1)) parent = parent[step] as Record<string | number, JsonValue>;
  const last = path[path.length - 1]!;
  parent[last] = mutate(parent[last]!);
  return copy;
}

/** A different JSON value: never equal to the input, and never a mere -0 / 0 swap. */
function mutate(v: JsonValue): JsonValue {
  if (v === null) return false;
  if (typeof v === "boolean") return !v;
  if (typeof v === "number") return v === 0 ? 1 : v + (Number.isInteger(v) ? 1 : 0.5);
  if (typeof v === "string") return v + "x";
  return null;
}

describe("canonical JSON (RFC 8785)", function () {
  describe("serialisation", function () {
    it("reproduces the RFC 8785 section 3.2.2 example (with full IEEE 754 numbers enabled)", function () {
      const input = JSON.parse(
        '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],' +
          ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", "literals": [null, true, false]}',
      ) as JsonValue;
      expect(canonicalJson(input, { ieee754Numbers: true })).to.equal(
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],' +
          '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
      );
    });

    it("orders members by UTF-16 code units, as in the RFC 8785 section 3.2.3 example", function () {
      const input: JsonObject = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\ud83d\ude00": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
      };
      // Compared as text: re-parsing would let JavaScript move the integer-like key "1" first again.
      // U+1F600 is the pair D83D DE00, so it sorts before U+FB33 by code unit although it is the larger code point.
      expect(canonicalJson(input)).to.equal(
        '{"\\r":"Carriage Return","1":"One","\u0080":"Control","ö":"Latin Small Letter O With Diaeresis",' +
          '"€":"Euro Sign","😀":"Emoji: Grinning Face","דּ":"Hebrew Letter Dalet With Dagesh"}',
      );
    });

    it("formats the RFC 8785 Appendix B numbers like ECMAScript", function () {
      const vectors: [string, string][] = [
        ["0000000000000000", "0"],
        ["8000000000000000", "0"],
        ["0000000000000001", "5e-324"],
        ["8000000000000001", "-5e-324"],
        ["7fefffffffffffff", "1.7976931348623157e+308"],
        ["ffefffffffffffff", "-1.7976931348623157e+308"],
        ["4340000000000000", "9007199254740992"],
        ["c340000000000000", "-9007199254740992"],
        ["4430000000000000", "295147905179352830000"],
        ["44b52d02c7e14af5", "9.999999999999997e+22"],
        ["44b52d02c7e14af6", "1e+23"],
        ["44b52d02c7e14af7", "1.0000000000000001e+23"],
        ["444b1ae4d6e2ef4e", "999999999999999700000"],
        ["444b1ae4d6e2ef4f", "999999999999999900000"],
        ["444b1ae4d6e2ef50", "1e+21"],
        ["3eb0c6f7a0b5ed8c", "9.999999999999997e-7"],
        ["3eb0c6f7a0b5ed8d", "0.000001"],
        ["41b3de4355555553", "333333333.3333332"],
        ["41b3de4355555554", "333333333.33333325"],
        ["41b3de4355555555", "333333333.3333333"],
        ["41b3de4355555556", "333333333.3333334"],
        ["41b3de4355555557", "333333333.33333343"],
        ["becbf647612f3696", "-0.0000033333333333333333"],
        ["43143ff3c1cb0959", "1424953923781206.2"],
      ];
      for (const [bits, expected] of vectors) {
        expect(canonicalJson([fromBits(bits)], { ieee754Numbers: true }), bits).to.equal(`[${expected}]`);
      }
    });

    it("writes 4.50 as 4.5, 2e-3 as 0.002, 1e-7 as 1e-7 and -0 as 0 within the default I-JSON range", function () {
      expect(canonicalJson([4.5, 2e-3, 1e-7, -0, 100, 1e-27, 0.1 + 0.2])).to.equal(
        "[4.5,0.002,1e-7,0,100,1e-27,0.30000000000000004]",
      );
    });

    it("escapes only what JSON requires, in lowercase \\u form, and leaves other characters as UTF-8", function () {
      expect(canonicalJson("\u0000\u001f\b\t\n\f\r\"\\/\u007f\u00e9\u2028\ud83d\ude00")).to.equal(
        '"\\u0000\\u001f\\b\\t\\n\\f\\r\\"\\\\/\u007f\u00e9\u2028\ud83d\ude00"',
      );
    });

    it("emits no whitespace and keeps array order", function () {
      expect(canonicalJson({ b: [3, 1, 2], a: { d: true, c: null } })).to.equal('{"a":{"c":null,"d":true},"b":[3,1,2]}');
    });
  });

  describe("refusals", function () {
    const refused: [string, unknown, string][] = [
      ["NaN", { q: NaN }, "/q"],
      ["Infinity", [1, Infinity], "/1"],
      ["-Infinity", -Infinity, ""],
      ["a lone high surrogate in a string", { s: "a\ud800" }, "/s"],
      ["a lone low surrogate in a member name", { "\udc00x": 1 }, "/\udc00x"],
      ["an integer beyond 2^53 - 1", { n: 9007199254740992 }, "/n"],
      ["1e21 (beyond the I-JSON range)", [1e21], "/0"],
      ["undefined", { u: undefined }, "/u"],
      ["a bigint", { b: 1n }, "/b"],
      ["a function", [() => 1], "/0"],
      ["a Date", { when: new Date(0) }, "/when"],
      ["a Map", new Map(), ""],
      ["a sparse array hole", { a: [1, , 3] }, "/a/1"],
      ["an object with toJSON", { t: { toJSON: () => 1 } }, "/t"],
    ];
    for (const [what, doc, path] of refused) {
      it(`refuses ${what}, naming where it is`, function () {
        expect(() => canonicalJson(doc as JsonValue))
          .to.throw(CanonicalJsonError)
          .with.property("path", path);
      });
    }

    it("refuses a cycle but accepts the same object shared by two members", function () {
      const shared = { x: 1 };
      expect(canonicalJson({ a: shared, b: shared })).to.equal('{"a":{"x":1},"b":{"x":1}}');
      const cyclic: Record<string, unknown> = { a: 1 };
      cyclic.self = { back: cyclic };
      expect(() => canonicalJson(cyclic as JsonValue)).to.throw(CanonicalJsonError, /circular/);
    });

    it("accepts 2^53 - 1 and escapes '/' and '~' in the reported JSON Pointer", function () {
      expect(canonicalJson(Number.MAX_SAFE_INTEGER)).to.equal("9007199254740991");
      expect(canonicalJson(-Number.MAX_SAFE_INTEGER)).to.equal("-9007199254740991");
      expect(() => canonicalJson({ "a/b~c": NaN })).to.throw(CanonicalJsonError).with.property("path", "/a~1b~0c");
    });

    it("survives deep nesting without a stack overflow", function () {
      let deep: JsonValue = 1;
      for (let i = 0; i < 100_000; i++) deep = [deep];
      expect(() => canonicalJson(deep)).not.to.throw();
    });
  });

  describe("docHash", function () {
    it("is keccak256 of the UTF-8 canonical bytes, as 0x-hex", function () {
      const doc: JsonObject = { kind: "Registered", lot: "LOT-é-1", quantity: { value: 12.5, unit: "kg" } };
      expect(docHash(doc)).to.equal(keccak256(toUtf8Bytes(canonicalJson(doc))));
      expect(docHash(doc)).to.match(/^0x[0-9a-f]{64}$/);
      // Pinned so an accidental change of canonical form or hash (which would orphan every signed event) is caught.
      expect(docHash({ b: 2, a: [1, "x", null, true] })).to.equal(keccak256(toUtf8Bytes('{"a":[1,"x",null,true],"b":2}')));
      expect(docHash({})).to.equal("0xb48d38f93eaa084033fc5970bf96e559c33c4cdc07d889ab00b4d63f9590739d");
    });

    it("never changes when members are reordered or whitespace is added (300 random documents)", function () {
      const rand = prng(8785);
      for (let i = 0; i < 300; i++) {
        const doc = randomJson(rand, 0);
        const reordered = shuffleKeys(doc, rand);
        const indent = Math.floor(rand() * 5);
        const reparsed = JSON.parse(JSON.stringify(reordered, null, indent).replace(/\n/g, "\r\n")) as JsonValue;
        expect(docHash(reparsed), `case ${i}: ${JSON.stringify(doc)}`).to.equal(docHash(doc));
      }
    });

    it("changes when any single value changes (300 random documents, every leaf)", function () {
      const rand = prng(7493);
      for (let i = 0; i < 300; i++) {
        const doc = randomJson(rand, 0);
        const hash = docHash(doc);
        for (const path of leafPaths(doc)) {
          expect(docHash(withLeafChanged(doc, path)), `case ${i} at ${JSON.stringify(path)}`).not.to.equal(hash);
        }
      }
    });

    it("changes when a member name changes or a member is added", function () {
      expect(docHash({ a: 1 })).not.to.equal(docHash({ A: 1 }));
      expect(docHash({ a: 1 })).not.to.equal(docHash({ a: 1, b: null }));
      expect(docHash([1, 2])).not.to.equal(docHash([2, 1]));
    });
  });
});
