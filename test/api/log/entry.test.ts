import { expect } from "chai";
import { AbiCoder, getAddress } from "ethers";
import { decodeEntry, encodeEntry, InvalidEntryError, NO_PREVIOUS } from "../../../ledger-api/src/log/entry.js";
import type { LogEntryFields } from "../../../ledger-api/src/log/entry.js";
import { h, SIGNATURE, SIGNER } from "./fixtures.js";

const fields: LogEntryFields = {
  version: 1,
  batchId: h("batch"),
  kind: 3,
  eventDigest: h("event"),
  docHash: h("doc"),
  signer: SIGNER,
  signature: SIGNATURE,
  prevIndex: NO_PREVIOUS,
};

describe("log entry encoding", function () {
  it("round-trips, with the signer checksummed", function () {
    const decoded = decodeEntry(encodeEntry({ ...fields, prevIndex: 41 }));
    expect(decoded).to.deep.equal({ ...fields, prevIndex: 41, signer: getAddress(SIGNER) });
  });

  it("is the standard ABI encoding of the documented tuple, so Solidity's abi.decode reads it", function () {
    const bytes = encodeEntry(fields);
    const [version, batchId, kind, , , signer, signature, prevIndex] = AbiCoder.defaultAbiCoder().decode(
      ["uint8", "bytes32", "uint8", "bytes32", "bytes32", "address", "bytes", "int64"],
      bytes,
    );
    expect([version, batchId, kind, signer, signature, prevIndex]).to.deep.equal([
      1n,
      fields.batchId,
      3n,
      getAddress(SIGNER),
      SIGNATURE,
      -1n,
    ]);
    // 8 head words, the signature's length word, and 65 bytes padded to 3 words.
    expect(bytes.length).to.equal(32 * (8 + 1 + 3));
  });

  it("refuses a zero batch id, an out-of-range kind or prevIndex, and a bad signer", function () {
    expect(() => encodeEntry({ ...fields, batchId: "0x" + "00".repeat(32) })).to.throw(InvalidEntryError);
    expect(() => encodeEntry({ ...fields, kind: 256 })).to.throw(InvalidEntryError);
    expect(() => encodeEntry({ ...fields, prevIndex: -2 })).to.throw(InvalidEntryError);
    expect(() => encodeEntry({ ...fields, signer: "0x1234" })).to.throw(InvalidEntryError);
  });

  it("refuses bytes that are not the one canonical encoding", function () {
    const bytes = encodeEntry(fields);
    const trailing = new Uint8Array(bytes.length + 32);
    trailing.set(bytes);
    expect(() => decodeEntry(trailing)).to.throw(InvalidEntryError);
    const v2 = bytes.slice();
    v2[31] = 2;
    expect(() => decodeEntry(v2)).to.throw(InvalidEntryError);
  });
});
