import { expect } from "chai";
import { AbiCoder, getAddress } from "ethers";
import { decodeEntry, encodeEntry, InvalidEntryError, NO_PREVIOUS } from "../../../ledger-api/src/log/entry.ts";
import type { LogEntryFields } from "../../../ledger-api/src/log/entry.ts";
import { h, SIGNATURE, SIGNER } from "./fixtures.ts";

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
  it("round-trips, with every hex field lower-cased", function () {
    const decoded = decodeEntry(encodeEntry({ ...fields, prevIndex: 41, signer: getAddress(SIGNER) }));
    expect(decoded).to.deep.equal({ ...fields, prevIndex: 41 });
  });

  it("produces exactly AbiCoder's bytes for the documented tuple", function () {
    const coder = AbiCoder.defaultAbiCoder();
    const types = ["uint8", "bytes32", "uint8", "bytes32", "bytes32", "address", "bytes", "int64"];
    for (const [prevIndex, signature, kind] of [
      [-1, SIGNATURE, 0],
      [0, "0x", 255],
      [41, "0x01", 7],
      [2 ** 40 + 3, "0x" + "cd".repeat(64), 1],
      [Number.MAX_SAFE_INTEGER, "0x" + "ef".repeat(33), 9],
    ] as const) {
      const f = { ...fields, prevIndex, signature, kind };
      const expected = coder.encode(types, [1, f.batchId, kind, f.eventDigest, f.docHash, f.signer, signature, prevIndex]);
      expect("0x" + Buffer.from(encodeEntry(f)).toString("hex"), `prevIndex ${prevIndex}`).to.equal(expected);
    }
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
    expect(() => encodeEntry({ ...fields, signer: "0x70997970C51812dc3A010C7d01b50e20d17dc79C" })).to.throw(InvalidEntryError);
    expect(() => encodeEntry({ ...fields, signature: "0xabc" })).to.throw(InvalidEntryError);
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
