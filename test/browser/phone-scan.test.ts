/**
 * The acceptance, as near as this machine gets to it: `npm start` (its server, `node ledger-api/src/main.ts`)
 * listening on the machine's network address with PUBLIC_BASE_URL set to it, as for phones on a market's network; a
 * printed label photographed (Chromium renders the label page for print at a camera's resolution and jsqr reads the
 * QR code off that picture, as a phone's camera app would); then a phone (Chromium emulating an Android phone, in
 * Korean, Chinese and English) opens the URL the code holds, over the network address, and sees the story verified
 * in its own language, reading the chain through the server's read-only /rpc.
 *
 * What it cannot show: a real phone's camera and browser on a real Wi-Fi network. The server is run without
 * `hardhat build` (npm start's first step) so as not to replace the coverage build the test run is using, and with
 * CHAIN_UNLIMITED_CODE_SIZE=1, which that instrumented build needs.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { networkInterfaces, tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import jsQR from "jsqr";
import { PNG } from "pngjs";
import type { Browser, Page } from "playwright-core";
import { demoBatches } from "../../ledger-api/src/demo/story.ts";
import { formatDigitalLink } from "../../ledger-api/src/gs1/digital-link.ts";
import { freePort, launchChromium } from "./harness.ts";

const SHOTS = "test-artifacts/browser";

const PHONES = [
  { locale: "ko-KR", lang: "ko", verified: "블록체인 검증 완료" },
  { locale: "zh-CN", lang: "zh-Hans", verified: "已通过区块链验证" },
  { locale: "en-US", lang: "en", verified: "Verified on chain" },
] as const;

/** An Android phone's browser, as Chromium emulates one. */
const PHONE = {
  userAgent:
    "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
  viewport: { width: 412, height: 915 },
  deviceScaleFactor: 2.625,
  isMobile: true,
  hasTouch: true,
};

function lanAddress(): string | undefined {
  return Object.values(networkInterfaces())
    .flat()
    .find((i) => i?.family === "IPv4" && !i.internal)?.address;
}

describe("npm start on the market's network: a printed label, scanned by a phone", function () {
  this.timeout(300_000);
  let server: ChildProcess | undefined;
  let output = "";
  let dir: string;
  let base: string;
  let browser: Browser;

  before(async function () {
    const lan = lanAddress();
    if (lan === undefined) {
      console.log("    (no network interface besides loopback: nothing a phone could reach)");
      this.skip();
    }
    dir = await mkdtemp(path.join(tmpdir(), "ledger-phone-"));
    await mkdir(SHOTS, { recursive: true });
    const port = await freePort();
    base = `http://${lan}:${port}`;
    server = spawn(process.execPath, ["ledger-api/src/main.ts"], {
      env: {
        ...process.env,
        DATA_DIR: dir,
        HOST: "0.0.0.0",
        PORT: String(port),
        CHAIN_PORT: String(await freePort()),
        PUBLIC_BASE_URL: base,
        CHAIN_UNLIMITED_CODE_SIZE: "1",
        ANCHOR_INTERVAL_MS: "500",
        LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    server.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    server.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const started = Date.now();
    while (!output.includes("Demo batches:")) {
      if (server.exitCode !== null) throw new Error(`npm start's server exited ${server.exitCode}:\n${output}`);
      if (Date.now() - started > 180_000) throw new Error(`npm start's server did not come up in 180 s:\n${output}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    browser = await launchChromium();
  });

  after(async function () {
    await browser?.close();
    if (server && server.exitCode === null) {
      const exited = new Promise((resolve) => server!.once("exit", resolve));
      server.kill("SIGINT");
      await exited;
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** The label sheet's URL for `lot`, as `npm start` printed it. */
  function printedLabelUrl(lot: string): string {
    const sheet = output.split("\n").map((l) => l.trim()).find((l) => l.endsWith("/label") && l.includes(encodeURIComponent(`/10/${lot}`)));
    if (!sheet) throw new Error(`npm start printed no label for ${lot}:\n${output}`);
    return sheet;
  }

  /** Prints the label (print media) and photographs it at a phone camera's resolution; returns what the QR holds. */
  async function photographLabel(labelUrl: string): Promise<string> {
    const context = await browser.newContext({ deviceScaleFactor: 4, viewport: { width: 800, height: 1100 } });
    try {
      const page = await context.newPage();
      await page.emulateMedia({ media: "print" });
      const res = await page.goto(labelUrl);
      expect(res?.status()).to.equal(200);
      // The whole label (product, lot, origin and the code), as a shopper's camera frames it.
      const photo = await page.locator("section.label").first().screenshot({ path: `${SHOTS}/label-printed.png` });
      const image = PNG.sync.read(photo);
      // jsqr ships CommonJS whose default export Node exposes as the module object: call through .default.
      const code = jsQR.default(new Uint8ClampedArray(image.data.buffer, image.data.byteOffset, image.data.length), image.width, image.height);
      if (!code) throw new Error("no QR code could be read off the printed label");
      return code.data;
    } finally {
      await context.close();
    }
  }

  /** Waits for the page's own verdict; while the last events are still being anchored, looks again. */
  async function verdict(page: Page): Promise<string> {
    const deadline = Date.now() + 90_000;
    for (;;) {
      await page.locator('[data-testid="summary"]:not([data-state="checking"])').waitFor({ timeout: 60_000 });
      const state = (await page.getByTestId("summary").getAttribute("data-state")) ?? "";
      if (state !== "pending" || Date.now() > deadline) return state;
      await new Promise((r) => setTimeout(r, 1000));
      await page.reload();
    }
  }

  it("prints a label whose QR code holds the batch's Digital Link on the network address", async function () {
    const scanned = await photographLabel(printedLabelUrl(demoBatches.tangerines.lot));
    expect(scanned).to.equal(formatDigitalLink(base, demoBatches.tangerines));
  });

  for (const { locale, lang, verified } of PHONES) {
    it(`leads a ${locale} phone from the label to the story, verified in its language`, async function () {
      const scanned = await photographLabel(printedLabelUrl(demoBatches.tangerines.lot));
      const context = await browser.newContext({ ...PHONE, locale });
      try {
        const page = await context.newPage();
        await page.goto(scanned);
        expect(await page.getAttribute("html", "lang")).to.equal(lang);
        const state = await verdict(page);
        const why = await page.$$eval('.badge[data-state="failed"]', (els) => els.map((e) => e.textContent).join("\n"));
        expect(state, `${await page.getByTestId("summary").innerText()}\n${why}`).to.equal("verified");
        expect(await page.getByTestId("summary").innerText()).to.include(verified);
        const states = await page.$$eval(".badge", (els) => els.map((e) => e.getAttribute("data-state")));
        expect(states.length).to.be.greaterThan(3);
        expect(new Set(states)).to.deep.equal(new Set(["verified"]));
        expect(await page.locator("main").innerText()).to.include("Jeju Hallabong");
        await page.screenshot({ path: `${SHOTS}/phone-${lang}.png`, fullPage: true });
      } finally {
        await context.close();
      }
    });
  }

  it("stops cleanly on Ctrl-C", async function () {
    const exited = new Promise<number | null>((resolve) => server!.once("exit", (code) => resolve(code)));
    server!.kill("SIGINT");
    expect(await exited).to.equal(0);
  });
});
