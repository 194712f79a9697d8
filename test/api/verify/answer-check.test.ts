import { expect } from "chai";
import { readFile } from "node:fs/promises";
import { answerCheckSource } from "../../../ledger-api/src/verify/answer-check-source.ts";

describe("the verifier's answer checker", function () {
  it("is the one the answer's schema generates today (npm run build:answer-check rewrites it)", async function () {
    const committed = await readFile(new URL("../../../ledger-api/src/verify/answer-check.generated.ts", import.meta.url), "utf8");
    expect(committed === answerCheckSource(), "verify/answer-check.generated.ts is stale: run npm run build:answer-check").to.equal(true);
  });
});
