// Hardhat 3 configuration for the SpamLedger contracts.
//
// Only solc-js (npm `solc`) is available offline, so the compiler is given by absolute path:
// without `path` Hardhat tries to download a compiler and fails. One compiler configuration
// compiles everything; the artifacts it writes are what the Python migrations deploy.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "hardhat/config";

const here = path.dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  solidity: {
    version: "0.8.28",
    path: path.join(here, "node_modules", "solc", "soljson.js"),
    settings: {
      optimizer: { enabled: true, runs: 200 },
      evmVersion: "cancun",
    },
  },
  paths: {
    sources: "contracts",
    tests: { solidity: "contracts/test" },
  },
  test: {
    solidity: {
      // Kept modest: the machine has 2 shared cores and `make test-solidity` must stay < 3 min.
      fuzz: { runs: 256 },
      // failOnRevert: a handler never reverts (hostile calls are made inside try/catch), so
      // a revert that reaches the fuzzer is a broken handler or an honest call refused.
      invariant: { runs: 48, depth: 24, failOnRevert: true },
    },
  },
});
