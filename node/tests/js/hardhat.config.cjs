// The `hardhat node` the wallet tests are validated against (README: "Wallet tests"):
//   npx hardhat --config node/tests/js/hardhat.config.cjs node --hostname 127.0.0.1 --port 8546
// Its default accounts are the `test test … junk` mnemonic accounts Parallax funds. Blocks are
// mined for every transaction and, like Parallax's, also on an interval when none arrive.
module.exports = {
  networks: {
    hardhat: {
      chainId: 31337,
      hardfork: 'prague',
      mining: { auto: true, interval: 1000 },
      // a reverted transaction is mined with status 0, as on any chain, instead of failing the send
      throwOnTransactionFailures: false,
    },
  },
};
