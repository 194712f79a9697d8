/**
 * The market's configuration (config.ts): which stalls make the market and in which language their displays speak,
 * validated at start-up so a misconfiguration stops the service with a message naming the variable.
 */
import { expect } from "chai";
import { ConfigError, loadConfig } from "../../../ledger-api/src/config.ts";
import { inMarket } from "../../../ledger-api/src/market/members.ts";
import type { ActorProfile } from "../../../ledger-api/src/store/store.ts";

const stall = (account: string, gln: bigint, retail = true): ActorProfile => ({ account, name: "s", gln, country: "0x4b52", retail, blockNumber: 1 });
const A = "0x00000000000000000000000000000000000000aa";
const B = "0x00000000000000000000000000000000000000bb";

describe("the market's configuration", function () {
  it("defaults to every retail actor, named Market, displays following their browser", function () {
    const { market } = loadConfig({});
    expect(market).to.deep.equal({ name: "Market", glnPrefix: undefined, actors: [], lang: undefined, maxDisplays: 1000 });
    expect(inMarket(market, stall(A, 8801234000086n))).to.equal(true);
    expect(inMarket(market, stall(A, 8801234000086n, false)), "never an actor without the retail flag").to.equal(false);
  });

  it("takes the stalls whose GLN starts with MARKET_GLN_PREFIX, or whose address MARKET_ACTORS lists", function () {
    const { market } = loadConfig({ MARKET_GLN_PREFIX: "8801234", MARKET_ACTORS: ` ${B.toUpperCase().replace("0X", "0x")} ` });
    expect(market.actors).to.deep.equal([B]);
    expect(inMarket(market, stall(A, 8801234000086n))).to.equal(true);
    expect(inMarket(market, stall(A, 8809999000010n))).to.equal(false);
    expect(inMarket(market, stall(B, 0n))).to.equal(true);
  });

  it("reads a GLN with leading zeros by its 13 digits", function () {
    const { market } = loadConfig({ MARKET_GLN_PREFIX: "0614141" });
    expect(inMarket(market, stall(A, 614141000012n))).to.equal(true);
  });

  it("refuses a malformed prefix, address, language or bound, naming the variable", function () {
    for (const [name, value] of [
      ["MARKET_GLN_PREFIX", "88-01"],
      ["MARKET_GLN_PREFIX", "88012340000861"],
      ["MARKET_ACTORS", "0x1234"],
      ["MARKET_LANG", "ja"],
      ["MARKET_DISPLAYS_MAX", "0"],
    ] as const) {
      expect(() => loadConfig({ [name]: value }), `${name}=${value}`).to.throw(ConfigError, name);
    }
  });
});
