//! Fees: the next block's base fee (EIP-1559), the suggested tip (geth's oracle over recent
//! blocks) and `eth_feeHistory`.

use crate::{error::RpcError, read::Api, read::hex_u64};
use alloy_consensus::{Header, Transaction as _};
use alloy_eips::{BlockNumberOrTag, eip1559::BaseFeeParams};
use alloy_rpc_types_eth::FeeHistory;
use serde_json::{Value, json};

/// Most reward percentiles one `eth_feeHistory` call may ask for (geth's `maxQueryLimit`).
const MAX_REWARD_PERCENTILES: usize = 100;
/// The tip suggested when recent blocks carry no transactions (geth's default, 1 gwei).
const DEFAULT_TIP: u128 = 1_000_000_000;
/// Blocks the tip oracle samples.
const TIP_SAMPLE_BLOCKS: u64 = 20;
/// Tips below this are ignored by the oracle (geth's `IgnorePrice`).
const IGNORED_TIP: u128 = 2;

impl Api<'_> {
    /// The effective tips (with their gas) of block `n`'s transactions, lowest first.
    pub(crate) fn block_tips(&self, header: &Header) -> Result<Vec<(u128, u64)>, RpcError> {
        let base_fee = header.base_fee_per_gas.unwrap_or(0);
        let (txs, receipts) = self.transactions_and_receipts(header.number)?;
        let mut previous = 0;
        let mut tips: Vec<(u128, u64)> = txs
            .iter()
            .zip(&receipts)
            .map(|(tx, r)| {
                let gas = r.cumulative_gas_used().saturating_sub(previous);
                previous = r.cumulative_gas_used();
                let tip = tx.effective_tip_per_gas(base_fee).unwrap_or(0);
                (tip, gas)
            })
            .collect();
        tips.sort_unstable();
        Ok(tips)
    }

    /// geth's tip oracle: the 60th percentile of the recent blocks' lowest tips (tips below
    /// 2 wei ignored), 1 gwei when they carried nothing.
    pub(crate) fn suggested_tip(&self) -> Result<u128, RpcError> {
        let head = self.head()?;
        let mut samples = Vec::new();
        for n in head.saturating_sub(TIP_SAMPLE_BLOCKS - 1)..=head {
            let header = self.header(n)?;
            let tips = self.block_tips(&header)?;
            // geth samples the few cheapest transactions of each block.
            samples.extend(
                tips.iter()
                    .map(|(tip, _)| *tip)
                    .filter(|t| *t >= IGNORED_TIP)
                    .take(3),
            );
        }
        if samples.is_empty() {
            return Ok(DEFAULT_TIP);
        }
        samples.sort_unstable();
        Ok(samples[(samples.len() - 1) * 60 / 100])
    }

    pub(crate) fn fee_history(
        &self,
        count: u64,
        newest: BlockNumberOrTag,
        percentiles: Option<Vec<f64>>,
    ) -> Result<Value, RpcError> {
        if let Some(p) = &percentiles {
            // geth's cap: every percentile is a column of every block's answer.
            if p.len() > MAX_REWARD_PERCENTILES {
                return Err(RpcError::server(format!(
                    "invalid reward percentile: over the query limit {MAX_REWARD_PERCENTILES}"
                )));
            }
            for (i, v) in p.iter().enumerate() {
                if !(0.0..=100.0).contains(v) || (i > 0 && *v < p[i - 1]) {
                    return Err(RpcError::params(format!("invalid reward percentile: {v}")));
                }
            }
        }
        let newest = self
            .number_of_tag(newest)?
            .ok_or_else(|| RpcError::params("request beyond head block"))?;
        let count = count.min(self.ctx.limits.max_fee_history).min(newest + 1);
        if count == 0 {
            return Ok(
                json!({"oldestBlock": hex_u64(0), "baseFeePerGas": [], "gasUsedRatio": [],
                "baseFeePerBlobGas": [], "blobGasUsedRatio": []}),
            );
        }
        let oldest = newest + 1 - count;
        let mut base_fees = Vec::with_capacity(count as usize + 1);
        let mut ratios = Vec::with_capacity(count as usize);
        let mut rewards = Vec::new();
        let mut last = None;
        for n in oldest..=newest {
            let header = self.header(n)?;
            base_fees.push(u128::from(header.base_fee_per_gas.unwrap_or(0)));
            ratios.push(if header.gas_limit == 0 {
                0.0
            } else {
                header.gas_used as f64 / header.gas_limit as f64
            });
            if let Some(p) = percentiles.as_ref().filter(|p| !p.is_empty()) {
                rewards.push(rewards_at(&self.block_tips(&header)?, header.gas_used, p));
            }
            last = Some(header);
        }
        if let Some(head) = &last {
            base_fees.push(u128::from(next_base_fee(head)));
        }
        let history = FeeHistory {
            base_fee_per_gas: base_fees,
            gas_used_ratio: ratios,
            base_fee_per_blob_gas: vec![0; count as usize + 1],
            blob_gas_used_ratio: vec![0.0; count as usize],
            oldest_block: oldest,
            // geth leaves `reward` out when no percentiles were asked for.
            reward: percentiles.filter(|p| !p.is_empty()).map(|_| rewards),
        };
        serde_json::to_value(history).map_err(RpcError::internal)
    }
}

/// The base fee of the block after `header`.
pub(crate) fn next_base_fee(header: &Header) -> u64 {
    header
        .next_block_base_fee(BaseFeeParams::ethereum())
        .unwrap_or(0)
}

/// geth's fee-history rewards: for each percentile, the tip of the transaction at which the
/// block's cumulative gas reaches that share.
pub(crate) fn rewards_at(tips: &[(u128, u64)], gas_used: u64, percentiles: &[f64]) -> Vec<u128> {
    if tips.is_empty() {
        return vec![0; percentiles.len()];
    }
    let mut out = Vec::with_capacity(percentiles.len());
    let mut i = 0;
    let mut sum = tips[0].1;
    for p in percentiles {
        let threshold = (gas_used as f64 * p / 100.0) as u64;
        while sum < threshold && i < tips.len() - 1 {
            i += 1;
            sum += tips[i].1;
        }
        out.push(tips[i].0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fee_history_rewards_follow_gas_weighted_percentiles() {
        // Three transactions: tips 1, 5, 10 with gas 21000, 50000, 29000 (100000 total).
        let tips = [(1, 21_000), (5, 50_000), (10, 29_000)];
        assert_eq!(
            rewards_at(&tips, 100_000, &[0.0, 20.0, 25.0, 70.0, 75.0, 100.0]),
            vec![1, 1, 5, 5, 10, 10]
        );
        assert_eq!(rewards_at(&[], 0, &[50.0]), vec![0]);
    }
}
