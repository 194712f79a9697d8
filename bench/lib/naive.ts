/**
 * The baseline every ingest figure is measured beside: the same checks with ethers' EIP-712 hashing
 * (`TypedDataEncoder.hash`) and ethers' pure-JS signature recovery, all on the main thread, as ingest ran before the
 * workers and the fast encoder.
 */
import { recoverAddress, TypedDataEncoder, type TypedDataField } from "ethers";
import { InlinePreparer, type LedgerDomain, type Preparer } from "../../ledger-api/src/ingest/ingest-pool.ts";
import { TYPES } from "../../ledger-api/src/protocol/typed-data.ts";

const SECP256K1_HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;

export function naivePreparer(domain: LedgerDomain, maxEvents: number): Preparer {
  return new InlinePreparer((now) => ({
    now,
    maxEvents,
    hash: (kind, values) => TypedDataEncoder.hash(domain, TYPES[kind] as Record<string, TypedDataField[]>, values as unknown as Record<string, unknown>),
    recover: (items) =>
      items.map(({ digest, signature }) => {
        try {
          if (BigInt("0x" + signature.slice(66, 130)) > SECP256K1_HALF_N) return null;
          return recoverAddress(digest, signature);
        } catch {
          return null;
        }
      }),
  }));
}
