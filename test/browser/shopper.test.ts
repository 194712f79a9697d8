/**
 * What a shopper's phone shows, in a real browser: Debian's Chromium (playwright-core) opens the Digital Link URL of
 * a demo batch, in Korean, Chinese and English; the page verifies the story itself, in the browser, against the
 * chain's JSON-RPC (anvil), and says so. A tampered answer, served by a test double standing in for the API, must
 * show "not verified". Screenshots go to test-artifacts/browser/.
 */
import { mkdir } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { expect } from "chai";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { demoBatches } from "../../ledger-api/src/demo/story.ts";
import { formatDigitalLink } from "../../ledger-api/src/gs1/digital-link.ts";
import { buildWebBundle } from "../../ledger-api/src/web/bundle.ts";
import { launchChromium, startLiveLedger, type LiveLedger } from "./harness.ts";

const SHOTS = "test-artifacts/browser";

const LANGUAGES = [
  { lang: "ko", acceptLanguage: "ko-KR,ko;q=0.9,en;q=0.5", verified: "검증" },
  { lang: "zh", acceptLanguage: "zh-CN,zh;q=0.9", verified: "验证" },
  { lang: "en", acceptLanguage: "en-US,en;q=0.9", verified: "erified" },
] as const;

describe("the shopper page in a browser", function () {
  this.timeout(180_000);
  let live: LiveLedger;
  let browser: Browser;

  before(async function () {
    await buildWebBundle();
    live = await startLiveLedger();
    browser = await launchChromium();
    await mkdir(SHOTS, { recursive: true });
  });
  after(async function () {
    await browser?.close();
    await live?.close();
  });

  async function open(acceptLanguage: string, keys: { gtin: string; lot: string }): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({
      locale: acceptLanguage.split(",")[0],
      extraHTTPHeaders: { "Accept-Language": acceptLanguage },
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
    });
    const page = await context.newPage();
    await page.goto(formatDigitalLink(live.baseUrl, keys));
    return { context, page };
  }

  async function settled(page: Page): Promise<string> {
    const summary = page.getByTestId("summary");
    // A locator, not waitForFunction: the page's CSP forbids the eval that a string predicate needs.
    await page.locator('[data-testid="summary"]:not([data-state="checking"])').waitFor({ timeout: 60_000 });
    return (await summary.getAttribute("data-state")) ?? "";
  }

  for (const { lang, acceptLanguage, verified } of LANGUAGES) {
    it(`shows the farm lot's story, verified in the browser, in ${lang}`, async function () {
      const { context, page } = await open(acceptLanguage, demoBatches.tangerines);
      try {
        expect(await page.getAttribute("html", "lang")).to.match(new RegExp(`^${lang}`));
        const text = (await page.textContent("body")) ?? "";
        for (const fact of ["Jeju Hallabong tangerines", "Jeju Hallabong Cooperative", "Garak Wholesale Market Co.", "Imidacloprid", "Chlorpyrifos"]) {
          expect(text, fact).to.include(fact);
        }
        expect(await page.locator('[data-phi="respected"]').count()).to.be.greaterThan(0);
        const state = await settled(page);
        expect(state, await page.getByTestId("summary").innerText()).to.equal("verified");
        expect(await page.getByTestId("summary").innerText()).to.include(verified);
        const states = await page.$$eval(".badge[data-index]", (els) => els.map((e) => e.getAttribute("data-state")));
        expect(states.length).to.be.greaterThan(3);
        expect(new Set(states)).to.deep.equal(new Set(["verified"]));
        // The trust root it checked against, spelled out for comparison with what the authority publishes.
        const root = (await page.getByTestId("trust-root").innerText()).toLowerCase();
        expect(root).to.include(live.services.deployments.ledger.toLowerCase()).and.include(live.services.deployments.anchor.toLowerCase());
        // Re-rendered from the verified answer in the browser, with the browser's own Intl data: nothing differs.
        expect(await page.locator("[data-rewritten]").count()).to.equal(0);
        for (const fact of ["Jeju Hallabong tangerines", "Imidacloprid"]) expect(await page.locator("main").innerText()).to.include(fact);
        await page.screenshot({ path: `${SHOTS}/farm-lot-${lang}.png`, fullPage: true });
      } finally {
        await context.close();
      }
    });
  }

  it("shows a stall lot's origin, custody and the farm lot's records it inherits, verified", async function () {
    const { context, page } = await open("en-US,en;q=0.9", demoBatches.tangerineStallLots[0]);
    try {
      const text = (await page.textContent("body")) ?? "";
      // The farm lot's spraying record and lab results hold for the stall lot cut from it, verified as inherited.
      for (const fact of ["Jeju Hallabong tangerines", "Mangwon Market Stall 12", "JJ-2611-A", "Imidacloprid", "Cadmium"]) {
        expect(text, fact).to.include(fact);
      }
      expect(await settled(page), await page.getByTestId("summary").innerText()).to.equal("verified");
      const states = await page.$$eval(".badge[data-index]", (els) => els.map((e) => e.getAttribute("data-state")));
      expect(new Set(states)).to.deep.equal(new Set(["verified"]));
      await page.screenshot({ path: `${SHOTS}/stall-lot-en.png`, fullPage: true });
    } finally {
      await context.close();
    }
  });

  it("shows the imported beef's customs clearance, verified", async function () {
    const { context, page } = await open("en", demoBatches.beef);
    try {
      const text = (await page.textContent("body")) ?? "";
      expect(text).to.include("12345-26-0098765X");
      expect(text).to.include("KRPUS");
      expect(await settled(page)).to.equal("verified");
      await page.screenshot({ path: `${SHOTS}/beef-en.png`, fullPage: true });
    } finally {
      await context.close();
    }
  });

  it("puts a recall at the top, unmistakably, and still verifies the story", async function () {
    const { context, page } = await open("ko", demoBatches.spinach);
    try {
      const banner = page.getByTestId("recall-banner");
      expect(await banner.isVisible()).to.equal(true);
      expect(await banner.innerText()).to.include("Chlorpyrifos");
      expect(await settled(page), await page.getByTestId("summary").innerText()).to.equal("verified");
      // Still there, at the top, once the page has re-rendered it from the verified answer.
      expect(await banner.innerText()).to.include("Chlorpyrifos");
      const box = await banner.boundingBox();
      expect(box?.y ?? 1e9, JSON.stringify(box)).to.be.lessThan(400);
      await page.screenshot({ path: `${SHOTS}/spinach-recalled-ko.png`, fullPage: true });
    } finally {
      await context.close();
    }
  });

  /**
   * Opens a batch's page through a test double of the server: an HTTP proxy on loopback in front of the live API that
   * passes everything through but edits the HTML page (not the JSON) with `edit`, as a server whose page says more than
   * its records would. (A real server, not a Playwright route: Chromium treats a page fulfilled by a route as public,
   * and its Local Network Access rules then forbid the page's RPC calls to loopback.)
   */
  async function openWithEditedHtml(keys: { gtin: string; lot: string }, edit: (html: string) => string): Promise<{ context: BrowserContext; page: Page }> {
    let edits = 0;
    const proxy = createServer(async (req, res) => {
      try {
        const upstream = await fetch(`${live.baseUrl}${req.url ?? "/"}`, {
          headers: Object.fromEntries(Object.entries(req.headers).filter((h): h is [string, string] => typeof h[1] === "string" && h[0] !== "host")),
        });
        const type = upstream.headers.get("content-type") ?? "";
        let body = Buffer.from(await upstream.arrayBuffer());
        if (type.startsWith("text/html")) {
          const edited = edit(body.toString("utf8"));
          if (edited !== body.toString("utf8")) edits++;
          body = Buffer.from(edited, "utf8");
        }
        const headers: Record<string, string> = {};
        upstream.headers.forEach((value, name) => {
          if (!["content-length", "content-encoding", "transfer-encoding", "connection"].includes(name)) headers[name] = value;
        });
        res.writeHead(upstream.status, headers).end(body);
      } catch (err) {
        res.writeHead(502).end(String(err));
      }
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    const context = await browser.newContext({ extraHTTPHeaders: { "Accept-Language": "en" } });
    context.on("close", () => proxy.close());
    const page = await context.newPage();
    await page.goto(formatDigitalLink(`http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, keys));
    expect(edits, "the edit changed the page").to.equal(1);
    return { context, page };
  }

  it("catches a page whose text says more than its signed records, and shows the records instead", async function () {
    // The server's page claims "Organic", which no signed record says; its JSON is the honest answer.
    const { context, page } = await openWithEditedHtml(demoBatches.tangerines, (html) =>
      html.replace("<h2>Jeju Hallabong tangerines</h2>", "<h2>Organic Jeju Hallabong tangerines</h2>"),
    );
    try {
      expect(await settled(page)).to.equal("failed");
      // Once the script has run, the page shows the signed records, and tells the shopper the website said otherwise.
      expect(await page.getByTestId("summary").innerText()).to.include("do not trust this website");
      const product = page.getByTestId("product");
      expect(await product.innerText()).to.not.include("Organic");
      expect(await product.locator("[data-rewritten]").count()).to.equal(1);
      expect(await page.locator("main").innerText()).to.not.include("Organic");
      // The records themselves verify: the badges say so, the summary does not.
      const states = await page.$$eval(".badge[data-index]", (els) => els.map((e) => e.getAttribute("data-state")));
      expect(new Set(states)).to.deep.equal(new Set(["verified"]));
      await page.screenshot({ path: `${SHOTS}/page-text-edited-en.png`, fullPage: true });
    } finally {
      await context.close();
    }
  });

  it("shows 'not verified' when the answer it is served was tampered with", async function () {
    // The test double edits the answer the page carries (one pesticide dose), not the text rendered from it.
    const { context, page } = await openWithEditedHtml(demoBatches.tangerines, (html) =>
      html.replace(/(<script type="application\/json" id="ledger-answer">)([^<]*)(<\/script>)/, (_, open: string, json: string, close: string) => {
        const answer = JSON.parse(json) as { timeline: { kind: string; document: { dose?: { value: number } } }[] };
        const pesticide = answer.timeline.find((e) => e.kind === "PesticideApplied");
        if (pesticide?.document.dose) pesticide.document.dose.value = 0.01;
        return `${open}${JSON.stringify(answer)}${close}`;
      }),
    );
    try {
      expect(await settled(page)).to.equal("failed");
      const failed = await page.$$eval('.badge[data-state="failed"]', (els) => els.map((e) => e.textContent ?? ""));
      expect(failed.length).to.be.greaterThan(0);
      expect(failed.join(" ")).to.match(/document/);
      await page.screenshot({ path: `${SHOTS}/tampered-en.png`, fullPage: true });
    } finally {
      await context.close();
    }
  });

  it("brings back a recall banner the server's page left out", async function () {
    const { context, page } = await openWithEditedHtml(demoBatches.spinach, (html) =>
      html.replace(/<section class="recall"[\s\S]*?<\/section>/, ""),
    );
    try {
      expect(await settled(page)).to.equal("failed");
      const banner = page.getByTestId("recall-banner");
      expect(await banner.isVisible()).to.equal(true);
      expect(await banner.locator("[data-rewritten]").count()).to.equal(1);
      expect(await banner.innerText()).to.include("Chlorpyrifos");
    } finally {
      await context.close();
    }
  });

  it("switches language with the switcher", async function () {
    const { context, page } = await open("en-US,en;q=0.9", demoBatches.beef);
    try {
      await page.getByTestId("lang-switch").locator('a[hreflang="zh"], a[href*="lang=zh"]').first().click();
      await page.waitForLoadState("domcontentloaded");
      expect(await page.getAttribute("html", "lang")).to.match(/^zh/);
    } finally {
      await context.close();
    }
  });
});
