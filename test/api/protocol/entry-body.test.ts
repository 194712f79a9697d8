import { expect } from "chai";
import { getAddress } from "ethers";
import { RelayBodyError, decodeRelayBody, encodeRelayBody } from "../../../ledger-api/src/protocol/entry-body.ts";
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

describe("relay body", function () {
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
      const json = encodeRelayBody(kind, { doc: { a: 1 }, values: v, signer: SIGNER, signature: SIGNATURE });
      expect(JSON.parse(json).values.nonce).to.equal(v.nonce.toString());
      const back = decodeRelayBody(kind, json);
      expect(back.values).to.deep.equal(v);
      expect(back).to.deep.include({ doc: { a: 1 }, signer: SIGNER, signature: SIGNATURE });
    }
  });

  it("refuses missing, unknown and mistyped fields and out-of-range integers, naming the path", function () {
    const v = values.pesticide("0x" + "12".repeat(32));
    const json = JSON.parse(encodeRelayBody(Kind.PesticideApplied, { doc: {}, values: v, signer: SIGNER, signature: SIGNATURE }));
    const variants: [Record<string, unknown>, string][] = [
      [{ ...json, values: { ...json.values, casNumber: undefined } }, "values.casNumber"],
      [{ ...json, values: { ...json.values, extra: "1" } }, "values.extra"],
      [{ ...json, values: { ...json.values, nonce: 5 } }, "values.nonce"],
      [{ ...json, values: { ...json.values, preHarvestIntervalDays: String(2n ** 32n) } }, "values.preHarvestIntervalDays"],
      [{ ...json, values: { ...json.values, batchId: "0x12" } }, "values.batchId"],
      [{ ...json, signer: "nobody" }, "signer"],
    ];
    for (const [body, path] of variants) {
      const e = thrown(() => decodeRelayBody(Kind.PesticideApplied, JSON.stringify(body)));
      expect(e).to.be.instanceOf(RelayBodyError);
      expect((e as RelayBodyError).path).to.equal(path);
    }
    expect(thrown(() => decodeRelayBody(Kind.PesticideApplied, "{not json"))).to.be.instanceOf(RelayBodyError);
  });
});
