/**
 * Builds the verifier's browser bundle to ledger-api/web-dist/verify.js (see ledger-api/src/verify/bundle.ts).
 *
 *   npm run build:web
 */
import { buildWebBundle } from "../ledger-api/src/verify/bundle.ts";

const bundle = await buildWebBundle();
console.log(`${bundle.outfile}: ${bundle.bytes} bytes, ${bundle.gzipBytes} gzipped`);
