/**
 * Every route that takes a batch `{id}` accepts every id the resolver accepts: the longest valid Digital Links,
 * URL-encoded as one path segment (a lot of 20 GS1 special characters, a resolver host with a long path), which
 * Fastify's default parameter limit of 100 characters refused with 414. Longer than any valid id is 414 ID_TOO_LONG.
 */
import { expect } from "chai";
import { formatDigitalLink, MAX_ENCODED_LINK_LENGTH, MAX_LINK_LENGTH } from "../../../ledger-api/src/gs1/digital-link.ts";
import { startLedger, type Ledger } from "../harness.ts";

/** Twenty characters, every one of them a GS1 character-set-82 character a URI must percent-encode or may not hold. */
const LOT = "!\"%&'()*+,-./:;<=>?_";
const KEYS = { gtin: "08801234000017", lot: LOT };

/** The routes that take `{id}`. */
const ROUTES = ["provenance", "trace", "label", "qr.svg", "qr.png"] as const;

const HOST = "https://ledger.food-safety.market-authority.example.org";

/** A Digital Link of exactly `length` characters for KEYS: a resolver host whose path prefix pads it out. */
function linkOfLength(length: number): string {
  const path = formatDigitalLink(HOST, KEYS).slice(HOST.length);
  const link = `${HOST}/resolver/${"r".repeat(length - HOST.length - path.length - "/resolver/".length)}${path}`;
  expect(link.length).to.equal(length);
  return link;
}

describe("batch ids on every {id} route", function () {
  this.timeout(60_000);
  let ledger: Ledger;

  before(async function () {
    ledger = await startLedger();
    const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000;
    const signed = await ledger.sign("cooperative", {
      kind: "Registered",
      batch: KEYS,
      occurredAt: new Date(hour - 3_600_000).toISOString().replace(".000Z", "Z"),
      product: "Jeju Hallabong tangerines",
      origin: { country: "KR", region: "Jeju-do", farm: { name: "Orchard 3" } },
      harvestDate: new Date(hour - 86_400_000).toISOString().slice(0, 10),
      quantity: { value: 100, unit: "kg" },
      imported: false,
    });
    expect((await ledger.post(signed)).statusCode).to.equal(202);
    await ledger.sync();
  });
  after(async function () {
    await ledger?.close();
  });

  const ids: [string, () => string][] = [
    ["a lot of 20 GS1 special characters, as a Digital Link path", () => encodeURIComponent(formatDigitalLink(HOST, KEYS).slice(HOST.length))],
    [
      "a resolver host with a path",
      () => encodeURIComponent(formatDigitalLink(`${HOST}/resolver`, KEYS)),
    ],
    [`the longest Digital Link the resolver reads (${MAX_LINK_LENGTH} characters)`, () => encodeURIComponent(linkOfLength(MAX_LINK_LENGTH))],
    [
      `the longest id as the router sees it (${MAX_ENCODED_LINK_LENGTH} characters, every character percent-encoded)`,
      () => {
        // Percent-encoding the unreserved characters too is legal and decodes to the same id.
        const raw = [...linkOfLength(MAX_LINK_LENGTH)].map((c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`).join("");
        expect(raw.length).to.equal(MAX_ENCODED_LINK_LENGTH);
        return raw;
      },
    ],
  ];

  for (const [what, id] of ids) {
    it(`answers 200 on every {id} route for ${what}`, async function () {
      for (const route of ROUTES) {
        const res = await ledger.app.inject({ method: "GET", url: `/v1/batches/${id()}/${route}` });
        expect(res.statusCode, `${route}: ${res.body.slice(0, 300)}`).to.equal(200);
      }
    });
  }

  it("refuses an id longer than any valid one with 414 ID_TOO_LONG, read or unread", async function () {
    // One character over what the resolver reads, decoded: refused by the route's schema.
    const decodedTooLong = encodeURIComponent(linkOfLength(MAX_LINK_LENGTH + 1));
    expect(decodedTooLong.length).to.be.below(MAX_ENCODED_LINK_LENGTH);
    // Longer as a path segment than any valid id can be: refused by the router before anything reads it.
    const rawTooLong = "%2F".repeat(MAX_ENCODED_LINK_LENGTH / 3 + 1);
    for (const id of [decodedTooLong, rawTooLong]) {
      for (const route of ROUTES) {
        const res = await ledger.app.inject({ method: "GET", url: `/v1/batches/${id}/${route}` });
        expect(res.statusCode, route).to.equal(414);
        expect(res.json(), route).to.include({ statusCode: 414, code: "ID_TOO_LONG" });
      }
    }
  });
});
