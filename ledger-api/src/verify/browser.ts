/**
 * Entry point of the browser bundle (web/bundle.ts builds it to ledger-api/web-dist/verify.js): puts the verifier on
 * `globalThis.LedgerVerify` for the shopper's page.
 *
 *   const { answer, verification } = await LedgerVerify.verifyUrl(
 *     "/v1/batches/0x…/provenance", "https://rpc.example.org",
 *     { trust: { chainId: 31337, ledger: "0x…", anchor: "0x…" } });
 *
 * The page fetches the answer from the ledger's server but reads the chain through the RPC the user chose; the trust
 * root (chain id and contract addresses) should come from somewhere other than that server for the check to mean
 * anything (see verify.ts).
 */
import type { Provenance } from "../protocol/answer.ts";
import { httpRpc, rpcReader } from "./chain-reader.ts";
import { verifyProvenance, type Verification, type VerifyOptions } from "./verify.ts";

/** Fetches the provenance answer at `answerUrl` and verifies it against the chain at `rpcUrl`. */
export async function verifyUrl(
  answerUrl: string,
  rpcUrl: string,
  options: VerifyOptions = {},
): Promise<{ answer: Provenance; verification: Verification }> {
  const res = await fetch(answerUrl, { headers: { accept: "application/json" } });
  if (!res.ok) throw new Error(`GET ${answerUrl}: HTTP ${res.status}`);
  const answer = (await res.json()) as Provenance;
  return { answer, verification: await verifyProvenance(answer, rpcReader(httpRpc(rpcUrl)), options) };
}

/**
 * What the page gets. `rpcReader(httpRpc(url))` is the ChainReader over a JSON-RPC URL; ethers' JsonRpcProvider
 * (and with it `providerReader`) is left out on purpose: it would double the bundle for nothing the verifier needs.
 */
export const LedgerVerify = Object.freeze({ verifyProvenance, verifyUrl, rpcReader, httpRpc });

(globalThis as { LedgerVerify?: typeof LedgerVerify }).LedgerVerify = LedgerVerify;
