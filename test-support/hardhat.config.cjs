// The Hardhat 2 configuration tests run `hardhat node` with (`parallax_test_support::l1`):
// a real Ethereum development chain (chain id 31337, the 20 `test test ... junk` accounts funded, one block
// per transaction), with per-request logging off. Caches go to the system temporary
// directory so the tests write nothing into the repository.
const os = require("os");
const path = require("path");

module.exports = {
  networks: {
    hardhat: {
      chainId: 31337,
      loggingEnabled: false,
      // Blocks no larger than the largest transaction Osaka allows (EIP-7825, 2^24 gas):
      // hardhat estimates gas from the block limit down, and refuses an estimate above the cap.
      blockGasLimit: 16777216,
    },
  },
  paths: {
    cache: path.join(os.tmpdir(), "parallax-test-hardhat-cache"),
    artifacts: path.join(os.tmpdir(), "parallax-test-hardhat-artifacts"),
  },
};
