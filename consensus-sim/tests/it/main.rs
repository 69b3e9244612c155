//! Simulation scenarios. Every run checks safety (agreement, commit order, prefix), that no
//! vote or timeout leaves before it is persisted, that honest validators are never accused,
//! liveness once the faults stop, and bounded memory. Seed counts are modest so the suite
//! stays fast in debug builds; `simulate` runs the big sweeps.

use parallax_consensus_sim::{
    Adversary, NetworkConfig, PartitionPlan, SimConfig, SimReport, Violation, leader_crash_bar_ms,
    run,
};

fn check(cfg: SimConfig) -> SimReport {
    let report = run(cfg);
    assert!(
        report.passed(),
        "property violated: {report}\n{:#?}",
        report.final_states
    );
    report
}

fn faulty(seed: u64, validators: usize, byzantine: usize, adversary: Adversary) -> SimConfig {
    SimConfig {
        validators,
        byzantine,
        adversary,
        network: NetworkConfig {
            loss: 0.02,
            duplicate: 0.02,
            ..NetworkConfig::default()
        },
        fault_phase_ms: 8_000,
        commits_after_faults: 5,
        liveness_rounds: 20,
        deadline_ms: 300_000,
        expect_every_round_commits: false,
        ..SimConfig::fault_free(seed)
    }
}

#[test]
fn fault_free_every_round_commits_a_block() {
    for seed in 0..50 {
        let r = check(SimConfig::fault_free(seed));
        assert!(r.committed_height >= 30, "{r}");
        // The 2-chain rule commits round r's block in round r + 2: only the last two rounds
        // are uncommitted.
        assert!(r.max_round <= r.committed_height + 3, "{r}");
        // 4 validators: a proposal to 3, 3 votes to the next leader (and nothing else).
        assert!(r.messages_per_block() < 7.0, "{r}");
        assert_eq!(r.evidence, 0);
    }
}

#[test]
fn fault_free_with_seven_and_ten_validators() {
    for (seed, n) in [(1, 7), (2, 10)] {
        let r = check(SimConfig {
            validators: n,
            ..SimConfig::fault_free(seed)
        });
        assert!(r.committed_height >= 30, "{r}");
    }
}

#[test]
fn lossy_duplicating_reordering_network() {
    for seed in 0..40 {
        check(SimConfig {
            network: NetworkConfig {
                min_latency_ms: 1,
                max_latency_ms: 300,
                loss: 0.1,
                duplicate: 0.1,
            },
            partitions: 0,
            crashes: 0,
            liveness_rounds: 40,
            ..faulty(seed, 4, 0, Adversary::Crash)
        });
    }
}

#[test]
fn partitions_start_and_heal() {
    for seed in 0..40 {
        let r = check(SimConfig {
            partitions: 4,
            ..faulty(seed, 4, 0, Adversary::Crash)
        });
        assert!(r.recovery_rounds.is_some(), "{r}");
    }
}

#[test]
fn crashes_mid_action_list_restart_from_persisted_safety_data() {
    for seed in 0..50 {
        check(SimConfig {
            crashes: 4,
            ..faulty(seed, 4, 0, Adversary::Crash)
        });
    }
}

#[test]
fn twins_equivocate_and_are_caught_without_breaking_safety() {
    let mut evidence = 0;
    for seed in 0..80 {
        let r = check(SimConfig {
            partitions: 2,
            ..faulty(seed, 4, 1, Adversary::Twins)
        });
        evidence += r.evidence;
    }
    assert!(evidence > 0, "twins never caught equivocating");
}

#[test]
fn twins_with_seven_validators_partitions_and_crashes() {
    for seed in 100..120 {
        check(SimConfig {
            partitions: 2,
            crashes: 2,
            ..faulty(seed, 7, 2, Adversary::Twins)
        });
    }
}

#[test]
fn garbage_sender_is_rejected_for_the_right_reasons() {
    let mut reasons = std::collections::BTreeMap::new();
    let mut evidence = 0;
    for seed in 0..60 {
        let r = check(SimConfig {
            partitions: 1,
            ..faulty(seed, 4, 1, Adversary::Garbage)
        });
        evidence += r.evidence;
        for (k, v) in r.rejections {
            *reasons.entry(k).or_insert(0) += v;
        }
    }
    // A certificate listing a signer twice is refused by the wire decoder, before the state
    // machine (which refuses it too, for any other way in).
    for reason in [
        "Wire:duplicate_signer",
        "UnknownValidator",
        "InvalidSignature",
        "FutureRound",
        "Malformed",
        "Equivocation",
        "InvalidPayload",
    ] {
        assert!(
            reasons.contains_key(reason),
            "{reason} never seen: {reasons:?}"
        );
    }
    assert!(evidence > 0);
}

#[test]
fn f_validators_crashing_for_good_do_not_stop_the_chain() {
    for seed in 0..25 {
        check(faulty(seed, 4, 1, Adversary::Crash));
        check(faulty(seed + 50, 7, 2, Adversary::Crash));
    }
}

#[test]
fn after_a_leader_crash_the_next_block_is_certified_within_two_timeouts() {
    for (seed, n) in (0..40).map(|s| (s, 4)).chain((40..50).map(|s| (s, 7))) {
        let cfg = SimConfig {
            validators: n,
            leader_crash: true,
            commits_after_faults: 10,
            expect_every_round_commits: false,
            ..SimConfig::fault_free(seed)
        };
        let network = cfg.network.clone();
        // The simulator fails the run past the bar; check the figures it reports too.
        let r = check(cfg);
        let ms = r.leader_crash_ms.unwrap();
        let [a, b] = r.leader_crash_timeouts_ms.unwrap();
        // The crashed leader had not yet gathered the votes of the highest round: that round
        // and its own are lost, at the base timeout each (no backoff for one crash).
        assert_eq!(r.leader_crash_rounds, Some(2), "{r}");
        assert_eq!([a, b], [1_000, 1_000], "{r}");
        assert_eq!(
            r.leader_crash_bar_ms,
            Some(leader_crash_bar_ms(a, b, &network))
        );
        assert!(ms <= leader_crash_bar_ms(a, b, &network), "{ms} ms: {r}");
        // And it is not vacuous: two timeouts were really waited.
        assert!(ms > a + b - network.max_latency_ms, "{ms} ms: {r}");
    }
}

/// Seven validators, two crashed for good, 5 % loss, three partitions and four crash-restarts:
/// five live validators are exactly a quorum, so every round needs every one of their
/// messages. Before mid-round retransmission and leader reputation these seeds resumed
/// commits 31-56 rounds after the faults (bound 30), or stayed below 10 commits for 300 s.
#[test]
fn seven_validators_two_crashed_for_good_under_heavy_faults_resume_within_the_bound() {
    for seed in [8, 12, 18, 35, 41, 58, 59, 77, 83, 85, 114, 128, 137, 138] {
        let r = check(SimConfig {
            network: NetworkConfig {
                loss: 0.05,
                duplicate: 0.02,
                ..NetworkConfig::default()
            },
            partitions: 3,
            crashes: 4,
            ..SimConfig::sweep(seed, 7, 2, Adversary::Crash)
        });
        assert!(r.recovery_rounds.is_some_and(|k| k <= 30), "{r}");
    }
}

/// Regressions of the default sweep found while adding leader reputation: seeds 200 and 401
/// (a validator restarting during the faults was recorded as failed, the one that crashed
/// for good after it was still recorded as up, and with no commits nothing corrected it:
/// reputation must hand over to the base schedule once its records are stale), and seed 459
/// (a Twins run where a crash fell between persisting a vote and storing its block, and the
/// vote was re-sent after the restart).
#[test]
fn default_sweep_regressions() {
    for (seed, adversary) in [
        (200, Adversary::Crash),
        (401, Adversary::Crash),
        (459, Adversary::Twins),
    ] {
        let r = check(SimConfig::sweep(seed, 4, 1, adversary));
        assert!(r.recovery_rounds.is_some_and(|k| k <= 30), "{r}");
    }
}

#[test]
fn the_same_seed_gives_the_same_trace() {
    for adversary in [Adversary::Twins, Adversary::Garbage, Adversary::Crash] {
        let cfg = SimConfig {
            partitions: 2,
            crashes: 2,
            ..faulty(7, 4, 1, adversary)
        };
        let a = check(cfg.clone());
        let b = check(cfg.clone());
        assert_eq!(a.trace_hash, b.trace_hash);
        assert_eq!(a.messages, b.messages);
        let c = check(SimConfig { seed: 8, ..cfg });
        assert_ne!(
            a.trace_hash, c.trace_hash,
            "different seeds, different traces"
        );
    }
}

/// The negative control: with f + 1 Byzantine validators (two twin pairs among four
/// validators, each pair split by a partition so that both sides hold a quorum of keys) the
/// protocol's assumptions do not hold, and the checker must report a safety violation. A
/// checker that never fails would pass every other scenario here too.
#[test]
fn with_f_plus_one_byzantine_validators_the_checker_reports_a_violation() {
    // Short runs: the checker records a safety violation the moment it happens, and liveness
    // is not expected here.
    let violated = (0..12).find(|seed| {
        let r = run(SimConfig {
            partitions: 1,
            partition_plan: PartitionPlan::SplitTwins,
            fault_phase_ms: 12_000,
            deadline_ms: 20_000,
            ..faulty(*seed, 4, 2, Adversary::Twins)
        });
        r.violations
            .iter()
            .any(|v| matches!(v, Violation::Safety { .. }))
    });
    assert!(
        violated.is_some(),
        "two twin pairs among four validators, split into two quorums, and no safety violation: the checker cannot fail"
    );
}

/// Twins enumerated for four validators, as in the Twins paper: one Byzantine key run by two
/// honest instances (five instances), and every way of splitting them into two groups, each
/// partition held through several rounds and then healed; safety holds and commits resume
/// after every one. (The paper also enumerates the leaders of the rounds; here they follow the
/// protocol's rotation.)
#[test]
fn twins_every_two_way_partition_of_four_validators_keeps_safety() {
    let instances = 5;
    let mut runs = 0;
    // Instance 0 in group 0 names each split once.
    for mask in 0u32..(1 << (instances - 1)) {
        let groups: Vec<usize> = (0..instances)
            .map(|i| {
                if i == 0 {
                    0
                } else {
                    ((mask >> (i - 1)) & 1) as usize
                }
            })
            .collect();
        for seed in 0..2 {
            check(SimConfig {
                partitions: 2,
                partition_plan: PartitionPlan::Groups(groups.clone()),
                ..faulty(1_000 + u64::from(mask) * 2 + seed, 4, 1, Adversary::Twins)
            });
            runs += 1;
        }
    }
    assert_eq!(runs, 32);
}

/// Everything at once, with unequal voting power: a Byzantine validator mixing its tricks
/// within the run (wrong-height and wrong-round votes, withheld votes, equivocating and
/// stale-QC proposals, replays of old messages and certificates, forged certificates),
/// one honest validator's messages delayed by 300 ms during the faults, and every honest
/// validator's clock running up to 20 % fast or slow; plus loss, duplication, partitions and a
/// crash. Safety, persist-before-send, no false evidence, liveness after the faults, bounded
/// memory.
#[test]
fn mixed_adversaries_with_unequal_power_slow_links_and_clock_skew() {
    for (validators, powers) in [(4, vec![5, 3, 2, 2]), (7, vec![4, 1, 3, 2, 2, 1, 3])] {
        for seed in 0..20u64 {
            check(SimConfig {
                powers: powers.clone(),
                slow_validator: Some(((seed % validators as u64) as u32, 300)),
                clock_skew_percent: 20,
                partitions: 1,
                crashes: 1,
                liveness_rounds: 30,
                ..faulty(3_000 + seed, validators, 1, Adversary::Garbage)
            });
        }
    }
}
