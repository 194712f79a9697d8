/**
 * Verifies a batch's provenance answer against a chain RPC you choose, trusting the ledger's server for nothing but
 * the answer's bytes. Usage, options and exit status: ledger-api/src/verify/cli.ts.
 *
 *   npm run verify -- https://market.example.org/01/08801234000017/10/JJ-2611-A --rpc https://rpc.example.org
 */
import { existsSync, readFileSync } from "node:fs";
import { JsonRpcProvider } from "ethers";
import { runVerify } from "../ledger-api/src/verify/cli.ts";
import { providerReader } from "../ledger-api/src/verify/chain-reader.ts";

const providers: JsonRpcProvider[] = [];
const code = await runVerify(process.argv.slice(2), {
  fetch: (url, init) => fetch(url, init),
  reader: (rpcUrl) => {
    const provider = new JsonRpcProvider(rpcUrl, undefined, { staticNetwork: false });
    providers.push(provider);
    return providerReader(provider);
  },
  readFile: (file) => (existsSync(file) ? readFileSync(file, "utf8") : undefined),
  env: process.env,
  out: (line) => console.log(line),
  err: (line) => console.error(line),
});
for (const p of providers) p.destroy();
process.exitCode = code;
