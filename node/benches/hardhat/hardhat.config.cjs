// The Hardhat 2 configuration that node/benches/rpc_load.rs runs `hardhat node` with: the
// default in-process network (chain id 31337, the 20 `test test ... junk` accounts funded,
// automining one block per transaction), with its per-request console logging turned off
// so that logging does not slow hardhat down in the comparison. Caches go to the system
// temporary directory so the benchmark writes nothing into the repository.
const os = require("os");
const path = require("path");

module.exports = {
  networks: {
    hardhat: {
      chainId: 31337,
      loggingEnabled: false,
    },
  },
  paths: {
    cache: path.join(os.tmpdir(), "parallax-rpc-bench-hardhat-cache"),
    artifacts: path.join(os.tmpdir(), "parallax-rpc-bench-hardhat-artifacts"),
  },
};
