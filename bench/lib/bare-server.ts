/**
 * The ceiling: a bare `node:http` server that reads the request body and answers 202 with a small JSON body, so the
 * same load generator shows what this machine serves with no framework and no work. Prints `READY <url>`.
 */
import { createServer } from "node:http";

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const body = JSON.stringify({ received: Buffer.concat(chunks).length });
    res.writeHead(req.method === "POST" ? 202 : 200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  });
});
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  console.log(`READY http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
