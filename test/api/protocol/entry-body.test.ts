import { expect } from "chai";
import { getAddress } from "ethers";
import { EntryBodyError, decodeEntryBody, encodeEntryBody, valuesFromJson, valuesToJson } from "../../../ledger-api/src/protocol/entry-body.ts";
import { Kind } from "../../../ledger-api/src/protocol/typed-data.ts";
import { children, values } from "../../contracts/fixtures.ts";

const SIGNER = getAddress("0x70997970c51812dc3a010c7d01b50e20d17dc79c");
const SIGNATURE = "0x" + "ab".repeat(65);

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error("expected a throw");
}

describe("entry body", function () {
  it("round-trips every struct shape, with uint256 values beyond 2^53 as decimal strings", function () {
    const batchId = "0x" + "12".repeat(32);
    const big = 2n ** 200n + 7n;
    const cases = [
      [Kind.Registered, values.registered({ quantity: big })],
      [Kind.Split, values.split(batchId, children(1n, big))],
      [Kind.Merged, values.merged([batchId, "0x" + "34".repeat(32)])],
      [Kind.HandOffOffered, values.offered(batchId, SIGNER)],
      [Kind.Inspected, values.inspected(batchId, { passed: false })],
    ] as const;
    for (const [kind, v] of cases) {
      const json = encodeEntryBody(kind, { doc: { a: 1 }, values: v, signer: SIGNER, signature: SIGNATURE });
      expect(JSON.parse(json).values.nonce).to.equal(v.nonce.toString());
      const back = decodeEntryBody(kind, json);
      expect(back.values).to.deep.equal(v);
      expect(back).to.deep.include({ doc: { a: 1 }, signer: SIGNER, signature: SIGNATURE });
    }
  });

  it("refuses missing, unknown and mistyped fields and out-of-range integers, naming the path", function () {
    const v = values.pesticide("0x" + "12".repeat(32));
    const json = JSON.parse(encodeEntryBody(Kind.PesticideApplied, { doc: {}, values: v, signer: SIGNER, signature: SIGNATURE }));
    const variants: [Record<string, unknown>, string][] = [
      [{ ...json, values: { ...json.values, casNumber: undefined } }, "values.casNumber"],
      [{ ...json, values: { ...json.values, extra: "1" } }, "values.extra"],
      [{ ...json, values: { ...json.values, nonce: 5 } }, "values.nonce"],
      [{ ...json, values: { ...json.values, preHarvestIntervalDays: String(2n ** 32n) } }, "values.preHarvestIntervalDays"],
      [{ ...json, values: { ...json.values, batchId: "0x12" } }, "values.batchId"],
      [{ ...json, signer: "nobody" }, "signer"],
    ];
    for (const [body, path] of variants) {
      const e = thrown(() => decodeEntryBody(Kind.PesticideApplied, JSON.stringify(body)));
      expect(e).to.be.instanceOf(EntryBodyError);
      expect((e as EntryBodyError).path).to.equal(path);
    }
    expect(thrown(() => decodeEntryBody(Kind.PesticideApplied, "{not json"))).to.be.instanceOf(EntryBodyError);
  });

  it("gives a struct the JSON form the body holds, and reads it back as strictly, without a body around it", function () {
    const v = values.split("0x" + "12".repeat(32), children(1n, 2n ** 70n));
    const body = JSON.parse(encodeEntryBody(Kind.Split, { doc: {}, values: v, signer: SIGNER, signature: SIGNATURE }));
    expect(valuesToJson(Kind.Split, v)).to.deep.equal(body.values);
    expect(valuesFromJson(Kind.Split, body.values)).to.deep.equal(v);
    const e = thrown(() => valuesFromJson(Kind.Split, { ...body.values, extra: "1" }));
    expect((e as EntryBodyError).path).to.equal("values.extra");
  });
});
