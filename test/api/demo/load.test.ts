/**
 * The demo load is resumable and idempotent: a load interrupted after any number of steps is completed by the next
 * load, each step logged once, and then every demo URL `npm start` prints answers 200. The loader runs over HTTP
 * against the real app (test/api/harness.ts, listening on a port), on fresh contracts for each interruption point.
 * test/api/start.test.ts does the same with `npm start`'s own process, killed.
 */
import { expect } from "chai";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  DEMO_CLOCK_FILE,
  demoBatchUrls,
  demoClock,
  describeDemoLoad,
  loadDemo,
  newDemoClock,
  type DemoClock,
} from "../../../ledger-api/src/demo/load.ts";
import { demoStory } from "../../../ledger-api/src/demo/story.ts";
import { startLedger, type Ledger } from "../harness.ts";

const STEPS = demoStory(new Date(), () => "0x" + "00".repeat(20)).length;

class Interrupted extends Error {}

/** Relays, mines and indexes until the relay has settled every entry. */
async function settle(ledger: Ledger): Promise<void> {
  const { store } = ledger.services;
  for (let pass = 0; ; pass++) {
    const unsettled =
      (await store.relayCursor()) < (await store.size()) ||
      (await store.relayRows("pending")).length > 0 ||
      (await store.relayRows("sent")).length > 0;
    if (!unsettled) return;
    if (pass === 60) throw new Error("the demo did not settle in 60 passes");
    await ledger.sync();
  }
}

describe("loading the demo story", function () {
  this.timeout(300_000);

  describe("its clock", function () {
    let dir: string;
    before(async function () {
      dir = await mkdtemp(path.join(tmpdir(), "ledger-demo-"));
    });
    after(async function () {
      await rm(dir, { recursive: true, force: true });
    });

    it("is fixed at the first start and recorded in the data directory, so later starts sign the same events", async function () {
      const first = demoClock(dir, new Date("2026-11-20T08:30:12.345Z"));
      expect(first).to.deep.equal(newDemoClock(new Date("2026-11-20T08:30:12Z")));
      expect(JSON.parse(await readFile(path.join(dir, DEMO_CLOCK_FILE), "utf8"))).to.deep.equal(first);
      expect(demoClock(dir, new Date("2027-03-01T00:00:00Z"))).to.deep.equal(first);
      // Far enough ahead for a load resumed years later.
      expect(first.deadline - Date.parse(first.startedAt) / 1000).to.be.at.least(4 * 365 * 86_400);
    });
  });

  for (const k of [0, 1, 9, STEPS - 1, STEPS]) {
    it(`completes a load interrupted after ${k} of ${STEPS} steps at the next load, each step logged once, every demo URL answering 200`, async function () {
      const ledger = await startLedger();
      try {
        await ledger.app.listen({ host: "127.0.0.1", port: 0 });
        const base = `http://127.0.0.1:${(ledger.app.server.address() as AddressInfo).port}`;
        const clock: DemoClock = demoClock(ledger.dataDir);
        if (k === STEPS) {
          expect(await loadDemo(base, { clock })).to.deep.include({ logged: STEPS, alreadyLogged: 0 });
        } else if (k > 0) {
          const interrupt = (answered: number) => {
            if (answered === k) throw new Interrupted();
          };
          await loadDemo(base, { clock, onStep: interrupt }).catch((err: unknown) => {
            if (!(err instanceof Interrupted)) throw err;
          });
        }
        expect(await ledger.services.store.size()).to.equal(k);
        // Part of what was logged reaches the chain before the next start.
        await ledger.sync();

        const second = await loadDemo(base, { clock: demoClock(ledger.dataDir) });
        expect(second).to.deep.equal({ steps: STEPS, logged: STEPS - k, alreadyLogged: k, refused: [] });
        expect(describeDemoLoad(second)).to.equal(
          `Demo story: ${STEPS} signed events, ${STEPS - k} logged now, ${k} already in the log`,
        );
        expect(await ledger.services.store.size()).to.equal(STEPS);

        await settle(ledger);
        expect(await ledger.services.store.relayRows("refused")).to.deep.equal([]);
        for (const { label, url } of demoBatchUrls("http://127.0.0.1:8080")) {
          const pathOnly = new URL(url).pathname;
          const page = await ledger.app.inject({ method: "GET", url: pathOnly, headers: { accept: "text/html" } });
          expect(page.statusCode, `${label} ${pathOnly}`).to.equal(200);
          const sheet = await ledger.app.inject({ method: "GET", url: `/v1/batches/${encodeURIComponent(pathOnly)}/label` });
          expect(sheet.statusCode, `${label} label`).to.equal(200);
        }
      } finally {
        await ledger.close();
      }
    });
  }
});
