/**
 * Builds the browser bundles (the verifier, and the shopper page's script) into ledger-api/web-dist/ (see
 * ledger-api/src/web/bundle.ts).
 *
 *   npm run build:web
 */
import { buildWebBundle } from "../ledger-api/src/web/bundle.ts";

const { files } = await buildWebBundle();
for (const { path, bytes, gzipBytes } of Object.values(files)) console.log(`${path}: ${bytes} bytes, ${gzipBytes} gzipped`);
