// The Hardhat 2 configuration of the testnet's Ethereum (`testnet/run.sh up` runs
// `hardhat node` with it on 127.0.0.1): chain id 31337, the 20 `test test ... junk` accounts
// funded, a block per transaction and one every second besides (so deposits get deeper with no
// traffic), per-request logging off. Caches go to the system temporary directory.
const os = require("os");
const path = require("path");

module.exports = {
  networks: {
    hardhat: {
      chainId: 31337,
      loggingEnabled: false,
      mining: { auto: true, interval: 1000 },
    },
  },
  paths: {
    cache: path.join(os.tmpdir(), "parallax-testnet-hardhat-cache"),
    artifacts: path.join(os.tmpdir(), "parallax-testnet-hardhat-artifacts"),
  },
};
