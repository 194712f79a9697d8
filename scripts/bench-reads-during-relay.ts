/**
 * Reads while the chain workers catch up with a burst: one API instance (SQLite store, its relay, indexer and
 * anchorer running, `main.ts` as deployed) on a local chain; 3,000 Registered events POSTed over 24 connections; then,
 * as soon as the last lot answers, 10 s of provenance reads of it over 24 connections while the relay and the indexer
 * are still busy with the burst. Prints the reads answered 200 and refused (by code), and every GET
 * /v1/log/checkpoint (an in-memory answer, sampled every 50 ms beside the load) slower than 100 ms: the event loop's
 * stalls as a client sees them.
 *
 *   node scripts/bench-reads-during-relay.ts [--events 3000] [--seconds 10]
 */
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { ledgerDomain } from "../ledger-api/src/protocol/typed-data.ts";
import { signEvent } from "../ledger-api/src/client/client.ts";
import { demoWallets } from "../ledger-api/src/demo/load.ts";
import { startInstance, startSharedChain } from "../test/api/instances.ts";
import { GTIN, registered } from "../bench/lib/instances.ts";

const { values } = parseArgs({ options: { events: { type: "string", default: "3000" }, seconds: { type: "string", default: "10" } } });
const EVENTS = Number(values.events);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const chain = await startSharedChain();
const instance = await startInstance({ chain, databaseUrl: undefined, name: "reads-during-relay", env: { LOG_LEVEL: "error" } });
try {
  const domain = ledgerDomain(BigInt(chain.deployments.chainId), chain.deployments.ledger);
  const wallet = demoWallets().cooperative;
  const bodies: string[] = [];
  for (let i = 0; i < EVENTS; i++) bodies.push(JSON.stringify(await signEvent(wallet, domain, registered(`RR-${i}`))));
  let next = 0;
  const t0 = performance.now();
  const ingest = await autocannon({
    url: instance.url,
    connections: 24,
    amount: EVENTS,
    requests: [{ method: "POST", path: "/v1/events", headers: { "content-type": "application/json" }, setupRequest: (r) => ({ ...r, body: bodies[next++] }) }],
  });
  console.log(`ingest: ${ingest["2xx"]} of ${EVENTS} events logged in ${Math.round(performance.now() - t0)} ms`);
  const path = `/v1/batches/${encodeURIComponent(`/01/${GTIN}/10/RR-${EVENTS - 1}`)}/provenance`;
  while ((await fetch(instance.url + path)).status !== 200) await sleep(100);

  let done = false;
  const stalls: number[] = [];
  const sampler = (async () => {
    while (!done) {
      const began = performance.now();
      await fetch(`${instance.url}/v1/log/checkpoint`).then((r) => r.arrayBuffer());
      const ms = performance.now() - began;
      if (ms > 100) stalls.push(Math.round(ms));
      await sleep(50);
    }
  })();
  const reads = await autocannon({ url: instance.url + path, connections: 24, duration: Number(values.seconds) });
  done = true;
  await sampler;
  const refused = Object.entries(reads.statusCodeStats ?? {}).filter(([code]) => !code.startsWith("2"));
  console.log(
    `reads: ${reads["2xx"]} answered 200 in ${values.seconds} s (${Math.round(reads["2xx"] / Number(values.seconds))}/s), ` +
      `refused: ${refused.length === 0 ? "none" : refused.map(([code, { count }]) => `${count} x ${code}`).join(", ")}, errors ${reads.errors}`,
  );
  console.log(`checkpoint slower than 100 ms: ${stalls.length} times${stalls.length > 0 ? `, the slowest ${Math.max(...stalls)} ms (${stalls.join(", ")})` : ""}`);
} finally {
  await instance.kill();
  await chain.stop();
}
