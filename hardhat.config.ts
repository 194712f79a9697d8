import { createRequire } from "node:module";
import { defineConfig } from "hardhat/config";
import hardhatEthers from "@nomicfoundation/hardhat-ethers";
import hardhatEthersChaiMatchers from "@nomicfoundation/hardhat-ethers-chai-matchers";
import hardhatMocha from "@nomicfoundation/hardhat-mocha";
import hardhatNetworkHelpers from "@nomicfoundation/hardhat-network-helpers";
import hardhatTypechain from "@nomicfoundation/hardhat-typechain";

// The compiler is the solc-js build shipped inside the npm package `solc` (pinned in package-lock.json):
// nothing is downloaded at build time, so the same bytecode comes out on an air-gapped customs network.
const require = createRequire(import.meta.url);
const solcJs = require.resolve("solc/soljson.js");

const fuzzRuns = Number(process.env.FUZZ_RUNS ?? 5000);

export default defineConfig({
  plugins: [hardhatEthers, hardhatEthersChaiMatchers, hardhatMocha, hardhatNetworkHelpers, hardhatTypechain],
  solidity: {
    version: "0.8.30",
    path: solcJs,
    settings: {
      optimizer: { enabled: true, runs: 200 },
      evmVersion: "cancun",
    },
  },
  paths: {
    tests: { mocha: "test", solidity: "test" },
  },
  test: {
    solidity: {
      fuzz: { runs: fuzzRuns },
    },
  },
  networks: {
    // Any EVM JSON-RPC endpoint; see scripts/deploy.ts and the README.
    target: {
      type: "http",
      chainType: "l1",
      url: process.env.RPC_URL ?? "http://127.0.0.1:8545",
      accounts: process.env.DEPLOYER_KEY ? [process.env.DEPLOYER_KEY] : [],
    },
  },
});
