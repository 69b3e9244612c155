//! Regression tests for the known ways BFT implementations fail, through the public API.

use ed25519_dalek::SigningKey;
use parallax_consensus::{
    Action, Block, BlockInfo, Config, ConfigError, Consensus, Event, Limits, MemoryStorage,
    Message, Proposal, QuorumCertificate, Recovery, Rejection, Reputation, SafetyData,
    SafetyStorage, Timeout, TimeoutCertificate, Timing, ValidatorIndex, Vote,
};
use parallax_consensus_sim::{CHAIN_ID, GENESIS, validator_key};
use parallax_test_support::Signers;

fn config() -> Config {
    Config {
        chain_id: CHAIN_ID,
        validators: validators().validator_set(),
        genesis: BlockInfo::genesis(GENESIS),
        timing: Timing::default(),
        limits: Limits::default(),
        reputation: Reputation::default(),
    }
}

fn key(i: ValidatorIndex) -> SigningKey {
    validator_key(i)
}

fn genesis_qc() -> QuorumCertificate {
    QuorumCertificate::genesis(BlockInfo::genesis(GENESIS))
}

fn start(
    i: ValidatorIndex,
    storage: &MemoryStorage,
    committed: BlockInfo,
) -> Result<Consensus, ConfigError> {
    let safety = storage.load().unwrap();
    let mut n = Consensus::new(
        config(),
        i,
        key(i),
        Recovery {
            safety,
            committed,
            committed_blocks: vec![],
            blocks: vec![],
        },
    )?;
    let actions = n.start();
    assert!(!actions.iter().any(|a| matches!(
        a,
        Action::Send {
            message: Message::Vote(_),
            ..
        }
    )));
    Ok(n)
}

/// The four validators, signing with the simulator's keys.
fn validators() -> Signers {
    Signers::with_keys(CHAIN_ID, (0..4).map(validator_key).collect())
}

/// The round's leader proposes on `qc` (and `tc`).
fn proposal(
    round: u64,
    qc: &QuorumCertificate,
    tc: Option<TimeoutCertificate>,
    payload: &[u8],
) -> Proposal {
    let leader = config().validators.leader(round);
    validators().proposal(leader, round, qc, tc, payload)
}

fn qc(block: BlockInfo, signers: &[ValidatorIndex]) -> QuorumCertificate {
    validators().qc(block, signers)
}

fn tc(round: u64, high_qc: &QuorumCertificate, signers: &[ValidatorIndex]) -> TimeoutCertificate {
    validators().tc(round, high_qc, signers)
}

/// Runs a driver that honours the contract: persist first, then (maybe) send. Returns the
/// votes that left.
fn drive(
    n: &mut Consensus,
    storage: &mut MemoryStorage,
    event: Event,
    crash_before_send: bool,
) -> Vec<Vote> {
    let mut sent = Vec::new();
    for a in n.handle(event) {
        match a {
            Action::Persist(s) => storage.store(&s).unwrap(),
            Action::Send {
                message: Message::Vote(v),
                ..
            } if !crash_before_send => sent.push(v),
            _ => {}
        }
    }
    sent
}

fn deliver_and_validate(
    n: &mut Consensus,
    storage: &mut MemoryStorage,
    p: &Proposal,
    crash: bool,
) -> Vec<Vote> {
    let mut sent = drive(
        n,
        storage,
        Event::Message {
            from: p.block.author(),
            message: Message::Proposal(Box::new(p.clone())),
        },
        crash,
    );
    sent.extend(drive(
        n,
        storage,
        Event::PayloadValidated {
            block_id: p.block.id(),
            valid: true,
        },
        crash,
    ));
    sent
}

#[test]
fn restart_after_a_vote_never_votes_again_in_that_round() {
    // Validator 3 votes for A in round 1; the process dies after persisting, before sending.
    let mut disk = MemoryStorage::default();
    let mut n = start(3, &disk, BlockInfo::genesis(GENESIS)).unwrap();
    let a = proposal(1, &genesis_qc(), None, b"A");
    assert!(deliver_and_validate(&mut n, &mut disk, &a, true).is_empty());
    drop(n);
    // Restarted from its disk, it is offered a conflicting B for the same round.
    let mut n = start(3, &disk, BlockInfo::genesis(GENESIS)).unwrap();
    let b = proposal(1, &genesis_qc(), None, b"B");
    let votes = deliver_and_validate(&mut n, &mut disk, &b, false);
    assert!(votes.is_empty(), "double vote after restart: {votes:?}");
    // It does vote normally in the next round (it leads round 3, so it keeps that vote).
    // Its block tree did not survive the restart: it fetches the parent first.
    let qc1 = qc(a.block.info(), &[0, 1, 2]);
    let c = proposal(2, &qc1, None, b"C");
    let out = n.handle(Event::Message {
        from: 2,
        message: Message::Proposal(Box::new(c.clone())),
    });
    assert!(
        out.iter()
            .any(|x| matches!(x, Action::FetchBlock { id, .. } if *id == a.block.id()))
    );
    drive(
        &mut n,
        &mut disk,
        Event::BlockFetched {
            blocks: vec![a.block.clone()],
        },
        false,
    );
    drive(
        &mut n,
        &mut disk,
        Event::PayloadValidated {
            block_id: c.block.id(),
            valid: true,
        },
        false,
    );
    let stored = disk.load().unwrap().unwrap();
    assert_eq!(stored.last_vote.map(|v| v.round), Some(2));
}

#[test]
fn restart_without_persisted_state_signs_nothing_where_it_may_have_signed() {
    // Past genesis with no safety data (a wiped database refilled by block sync): the node
    // runs, but the network's certificates show it may have signed up to round 9, so the
    // round-9 proposal gets no vote from it.
    let mut disk = MemoryStorage::default();
    let committed = BlockInfo {
        id: parallax_consensus::Hash([1; 32]),
        round: 8,
        height: 5,
    };
    let mut n = start(3, &disk, committed).unwrap();
    let p9 = proposal(9, &qc(committed, &[0, 1, 2]), None, b"nine");
    let sent = deliver_and_validate(&mut n, &mut disk, &p9, false);
    assert!(sent.is_empty(), "voted in round 9: {sent:?}");
    assert_eq!(n.signing_floor(), Some(9));
    // Round 10, entered on round 9's certificate, is past anything it signed before.
    let p10 = proposal(10, &qc(p9.block.info(), &[0, 1, 2]), None, b"ten");
    // (Validator 3 leads round 11, so it keeps its round-10 vote rather than sending it.)
    deliver_and_validate(&mut n, &mut disk, &p10, false);
    assert!(!n.signing_paused());
    assert_eq!(disk.load().unwrap().unwrap().last_voted_round, 10);
}

#[test]
fn a_qc_or_tc_with_a_duplicated_signer_is_rejected() {
    let mut disk = MemoryStorage::default();
    let mut n = start(3, &disk, BlockInfo::genesis(GENESIS)).unwrap();
    let a = proposal(1, &genesis_qc(), None, b"A");
    deliver_and_validate(&mut n, &mut disk, &a, false);
    // Two real signers, one of them twice: 3 signatures but only 2/4 of the power.
    let mut dup = qc(a.block.info(), &[0, 1]);
    dup.signatures.push(dup.signatures[0]);
    let out = n.handle(Event::Message {
        from: 2,
        message: Message::Proposal(Box::new(proposal(2, &dup, None, b"B"))),
    });
    assert!(out.iter().any(|x| matches!(
        x,
        Action::Rejected {
            reason: Rejection::DuplicateSigner(0),
            ..
        }
    )));
    assert_eq!(n.round(), 1);
    assert_eq!(n.highest_qc().round, 0);

    let mut dup_tc = tc(1, &genesis_qc(), &[0, 1]);
    dup_tc.signatures.push(dup_tc.signatures[1]);
    let out = n.handle(Event::Message {
        from: 2,
        message: Message::Proposal(Box::new(proposal(2, &genesis_qc(), Some(dup_tc), b"B"))),
    });
    assert!(out.iter().any(|x| matches!(
        x,
        Action::Rejected {
            reason: Rejection::DuplicateSigner(1),
            ..
        }
    )));
    assert_eq!(n.round(), 1);
}

#[test]
fn far_future_rounds_do_not_grow_memory() {
    let disk = MemoryStorage::default();
    let mut n = start(0, &disk, BlockInfo::genesis(GENESIS)).unwrap();
    let bound = n.footprint_bound();
    let fake = Block::new(1, 1, GENESIS, 1, vec![], vec![]);
    for r in 0..5_000u64 {
        let round = 100 + r * 7;
        let messages = [
            Message::Vote(Vote::sign(
                CHAIN_ID,
                BlockInfo {
                    id: fake.id(),
                    round,
                    height: round,
                },
                1,
                &key(1),
            )),
            Message::Timeout(Timeout::sign(CHAIN_ID, round, genesis_qc(), 2, &key(2))),
            // Proposals for far rounds "justified" by forged certificates.
            Message::Proposal(Box::new(proposal(
                round,
                &QuorumCertificate {
                    round: round - 1,
                    height: 3,
                    block_id: fake.id(),
                    signatures: vec![],
                },
                None,
                b"x",
            ))),
        ];
        for m in messages {
            let out = n.handle(Event::Message {
                from: 1,
                message: m,
            });
            assert!(
                out.iter().all(|a| matches!(a, Action::Rejected { .. })),
                "{out:?}"
            );
        }
    }
    let f = n.footprint();
    assert_eq!((f.votes, f.timeouts, f.blocks, f.proposals), (0, 0, 0, 0));
    assert!(f.verified <= bound.verified);
    assert_eq!(n.round(), 1);
}

#[test]
fn after_restart_the_round_follows_the_highest_qc_or_tc() {
    let b1 = Block::new(1, 1, GENESIS, 1, vec![], vec![]);
    let b2 = Block::new(2, 2, b1.id(), 2, vec![], vec![]);
    let qc2 = qc(b2.info(), &[0, 1, 2]);
    // Highest QC round 2, highest TC round 6 (which reports QC 2): resume in round 7.
    let mut disk = MemoryStorage::default();
    let mut n = start(3, &disk, BlockInfo::genesis(GENESIS)).unwrap();
    drive(
        &mut n,
        &mut disk,
        Event::Message {
            from: 0,
            message: Message::Timeout({
                let mut t = Timeout::sign(CHAIN_ID, 7, qc2.clone(), 0, &key(0));
                t.tc = Some(tc(6, &qc2, &[0, 1, 2]));
                t
            }),
        },
        false,
    );
    assert_eq!(n.round(), 7);
    drop(n);
    assert_eq!(
        start(3, &disk, BlockInfo::genesis(GENESIS))
            .unwrap()
            .round(),
        7
    );

    // Highest QC round 9 above the TC: resume in round 10.
    let b9 = Block::new(9, 3, b2.id(), 1, vec![], vec![]);
    let qc9 = qc(b9.info(), &[1, 2, 3]);
    let mut n = start(3, &disk, BlockInfo::genesis(GENESIS)).unwrap();
    drive(
        &mut n,
        &mut disk,
        Event::Message {
            from: 0,
            message: Message::Timeout(Timeout::sign(CHAIN_ID, 10, qc9, 0, &key(0))),
        },
        false,
    );
    drop(n);
    let n = start(3, &disk, BlockInfo::genesis(GENESIS)).unwrap();
    assert_eq!(n.round(), 10);
    assert_eq!(n.safety().highest_tc_round(), 6);
}

#[test]
fn commits_are_reported_once_each_in_order_across_duplicated_certificates() {
    let mut disk = MemoryStorage::default();
    let mut n = start(3, &disk, BlockInfo::genesis(GENESIS)).unwrap();
    let mut qc_prev = genesis_qc();
    let mut committed = Vec::new();
    for round in 1..=8u64 {
        let p = proposal(round, &qc_prev, None, &[round as u8]);
        for _ in 0..2 {
            // Every message twice.
            for a in n
                .handle(Event::Message {
                    from: p.block.author(),
                    message: Message::Proposal(Box::new(p.clone())),
                })
                .into_iter()
                .chain(n.handle(Event::PayloadValidated {
                    block_id: p.block.id(),
                    valid: true,
                }))
            {
                match a {
                    Action::Persist(s) => disk.store(&s).unwrap(),
                    Action::Commit { block, .. } => committed.push(block.height()),
                    _ => {}
                }
            }
        }
        qc_prev = qc(p.block.info(), &[0, 1, 2]);
    }
    assert_eq!(committed, (1..=6).collect::<Vec<_>>());
}

fn restart_with(
    i: ValidatorIndex,
    disk: &MemoryStorage,
    committed: BlockInfo,
    committed_blocks: Vec<Block>,
    blocks: Vec<Block>,
) -> Result<Consensus, ConfigError> {
    Consensus::new(
        config(),
        i,
        key(i),
        Recovery {
            safety: disk.load().unwrap(),
            committed,
            committed_blocks,
            blocks,
        },
    )
}

fn sent_votes(actions: &[Action]) -> Vec<Vote> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send {
                message: Message::Vote(v),
                ..
            } => Some(v.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_vote_whose_block_may_not_be_on_disk_is_never_sent_again() {
    // Validator 3 votes for A in round 1; the process dies after persisting the safety data
    // and before storing the block (a crash between the two actions).
    let mut disk = MemoryStorage::default();
    let mut n = start(3, &disk, BlockInfo::genesis(GENESIS)).unwrap();
    let a = proposal(1, &genesis_qc(), None, b"A");
    assert!(deliver_and_validate(&mut n, &mut disk, &a, true).is_empty());
    drop(n);
    assert_eq!(
        disk.load().unwrap().unwrap().last_vote.map(|v| v.block_id),
        Some(a.block.id())
    );
    // Restarted without the block, it is offered the proposal again (so it holds the block,
    // but has not stored it): the mid-round re-send must not send that vote, which would
    // count towards a QC for a block this validator may not have on disk.
    let mut n = restart_with(3, &disk, BlockInfo::genesis(GENESIS), vec![], vec![]).unwrap();
    n.start();
    n.handle(Event::Message {
        from: 1,
        message: Message::Proposal(Box::new(a.clone())),
    });
    assert!(n.block(&a.block.id()).is_some());
    let out = n.handle(Event::TimerFired { round: 1 });
    assert!(sent_votes(&out).is_empty(), "{out:?}");
    // Restarted with the block on disk, the same vote goes out again at mid-round.
    let mut n = restart_with(
        3,
        &disk,
        BlockInfo::genesis(GENESIS),
        vec![],
        vec![a.block.clone()],
    )
    .unwrap();
    n.start();
    let out = n.handle(Event::TimerFired { round: 1 });
    let v = sent_votes(&out);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].block_id, a.block.id());
}

/// A committed chain of rounds 1..=`last` in which validator 3 crashed after round 4: its
/// later rounds (7, 11, ...) produced nothing, and the certificates recorded after that are
/// signed by 0, 1 and 2.
fn chain_without_validator_3(last: u64) -> Vec<Block> {
    let vs = config().validators;
    let mut parent = GENESIS;
    let mut out = Vec::new();
    for r in (1..=last).filter(|r| *r <= 4 || r % 4 != 3) {
        let participants = if r <= 5 {
            vec![0, 1, 2, 3]
        } else {
            vec![0, 1, 2]
        };
        let b = Block::new(
            r,
            out.len() as u64 + 1,
            parent,
            vs.leader(r),
            participants,
            vec![],
        );
        parent = b.id();
        out.push(b);
    }
    out
}

#[test]
fn leader_reputation_is_the_same_on_every_node_and_survives_restarts() {
    let chain = chain_without_validator_3(30);
    let tip = chain.last().unwrap().info();
    let keep = Reputation::default().window + Reputation::default().lag as usize + 1;
    let recent = chain[chain.len() - keep..].to_vec();
    let disk = {
        let mut d = MemoryStorage::default();
        d.store(&SafetyData::new(BlockInfo::genesis(GENESIS)))
            .unwrap();
        d
    };
    // Validators 0 and 1 restart from their disks and the last committed blocks: they elect
    // the same leaders, and validator 3 (crashed) leads none of the rounds anchored on
    // these records, while every other validator keeps its own rounds.
    let a = restart_with(0, &disk, tip, recent.clone(), vec![]).unwrap();
    let b = restart_with(1, &disk, tip, chain.clone(), vec![]).unwrap();
    let vs = config().validators;
    let horizon = tip.round + Reputation::default().lag + Reputation::default().stale_after;
    for r in tip.round + 1..=horizon {
        assert_eq!(a.leader(r), b.leader(r), "round {r}");
        assert_ne!(a.leader(r), 3, "round {r}");
        if vs.leader(r) != 3 {
            assert_eq!(a.leader(r), vs.leader(r), "round {r}");
        }
        assert_ne!(a.leader(r), a.leader(r + 1), "rounds {r} and {}", r + 1);
    }
    // Without its committed blocks a node falls back to the plain rotation (and disagrees):
    // that is why the driver hands them back.
    let c = restart_with(2, &disk, tip, vec![], vec![]).unwrap();
    assert!((tip.round + 1..=horizon).any(|r| c.leader(r) != a.leader(r)));
    // Committed blocks that do not chain up to the committed block are refused.
    let mut broken = recent.clone();
    broken.remove(3);
    assert_eq!(
        restart_with(0, &disk, tip, broken, vec![]).unwrap_err(),
        ConfigError::CommittedChain
    );
    assert_eq!(
        restart_with(0, &disk, chain[chain.len() - 2].info(), recent, vec![]).unwrap_err(),
        ConfigError::CommittedChain
    );
}
