//! Unit tests of the state machine against hand-made messages.

use super::*;
use crate::crypto;
use crate::evidence::{Evidence, EvidenceKind};
use crate::leader::Reputation;
use crate::types::{SyncInfo, Timeout, TimeoutCertificate};
use crate::validators::ValidatorSet;

const CHAIN: u64 = 7;
const GENESIS: Hash = Hash([0xaa; 32]);

fn key(i: ValidatorIndex) -> SigningKey {
    SigningKey::from_bytes(&[i as u8 + 1; 32])
}

fn config() -> Config {
    let validators =
        ValidatorSet::new((0..4).map(|i| (key(i).verifying_key(), 1)).collect()).unwrap();
    Config {
        chain_id: CHAIN,
        validators,
        genesis: BlockInfo::genesis(GENESIS),
        timing: Timing {
            base_timeout: Duration::from_millis(1000),
            max_timeout: Duration::from_millis(10_000),
            backoff_percent: 200,
        },
        limits: Limits::default(),
        reputation: Reputation::default(),
    }
}

fn genesis() -> BlockInfo {
    BlockInfo::genesis(GENESIS)
}

fn node_with(i: ValidatorIndex, safety: Option<SafetyData>, committed: BlockInfo) -> Consensus {
    Consensus::new(
        config(),
        i,
        key(i),
        Recovery {
            safety,
            committed,
            committed_blocks: vec![],
            blocks: vec![],
        },
    )
    .unwrap()
}

fn node(i: ValidatorIndex) -> Consensus {
    let mut n = node_with(i, None, genesis());
    n.start();
    n
}

fn qc_for(block: BlockInfo, signers: &[ValidatorIndex]) -> QuorumCertificate {
    QuorumCertificate {
        round: block.round,
        height: block.height,
        block_id: block.id,
        signatures: signers
            .iter()
            .map(|s| SignedBy {
                signer: *s,
                signature: Vote::sign(CHAIN, block, *s, &key(*s)).signature,
            })
            .collect(),
    }
}

fn genesis_qc() -> QuorumCertificate {
    QuorumCertificate::genesis(genesis())
}

/// A proposal by the round's leader (equal powers: leader of round r is r mod 4).
fn proposal(
    round: Round,
    qc: &QuorumCertificate,
    tc: Option<TimeoutCertificate>,
    payload: &[u8],
) -> Proposal {
    let author = (round % 4) as ValidatorIndex;
    let block = Block::new(
        round,
        qc.height + 1,
        qc.block_id,
        author,
        Proposal::participants(qc, tc.as_ref()),
        payload.to_vec(),
    );
    Proposal::sign(CHAIN, block, qc.clone(), tc, &key(author))
}

fn deliver(n: &mut Consensus, from: ValidatorIndex, m: Message) -> Vec<Action> {
    n.handle(Event::Message { from, message: m })
}

fn rejections(actions: &[Action]) -> Vec<Rejection> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Rejected { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect()
}

fn votes(actions: &[Action]) -> Vec<(ValidatorIndex, Vote)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send {
                to,
                message: Message::Vote(v),
            } => Some((*to, v.clone())),
            _ => None,
        })
        .collect()
}

/// The safety data persisted by these actions, checking it is persisted before any vote or
/// timeout leaves.
fn persisted(actions: &[Action]) -> Option<&SafetyData> {
    let signed = actions.iter().position(|a| {
        matches!(
            a,
            Action::Send {
                message: Message::Vote(_),
                ..
            } | Action::Broadcast {
                message: Message::Timeout(_)
            }
        )
    });
    let persist = actions.iter().position(|a| matches!(a, Action::Persist(_)));
    if let (Some(s), Some(p)) = (signed, persist) {
        assert!(p < s, "persist must come before the signed message leaves");
    }
    actions.iter().rev().find_map(|a| match a {
        Action::Persist(s) => Some(&**s),
        _ => None,
    })
}

/// Delivers a proposal to a follower and validates its payload; returns all actions.
fn accept(n: &mut Consensus, p: &Proposal) -> Vec<Action> {
    let mut out = deliver(n, p.block.author(), Message::Proposal(Box::new(p.clone())));
    out.extend(n.handle(Event::PayloadValidated {
        block_id: p.block.id(),
        valid: true,
    }));
    out
}

#[test]
fn leader_proposes_and_votes_after_persisting() {
    let mut n = node_with(1, None, genesis());
    let start = n.start();
    assert!(
        start.iter().any(
            |a| matches!(a, Action::BuildPayload { round: 1, parent } if parent.id == GENESIS)
        )
    );
    let out = n.handle(Event::PayloadBuilt {
        round: 1,
        parent: GENESIS,
        payload: b"txs".to_vec(),
    });
    let safety = persisted(&out).expect("persist comes first");
    assert_eq!(safety.last_voted_round, 1);
    assert!(out.iter().any(|a| matches!(a, Action::Broadcast { message: Message::Proposal(p) } if p.block.round() == 1 && p.block.height() == 1)));
    let v = votes(&out);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].0, 2, "the vote goes to the next round's leader");
}

#[test]
fn follower_votes_only_after_the_payload_is_valid() {
    let mut n = node(3);
    let p = proposal(1, &genesis_qc(), None, b"a");
    let out = deliver(&mut n, 1, Message::Proposal(Box::new(p.clone())));
    assert!(
        out.iter()
            .any(|a| matches!(a, Action::ValidatePayload { block } if block.id() == p.block.id()))
    );
    assert!(votes(&out).is_empty(), "no vote before validation");

    let out = n.handle(Event::PayloadValidated {
        block_id: p.block.id(),
        valid: false,
    });
    assert!(votes(&out).is_empty());
    assert_eq!(rejections(&out), vec![Rejection::InvalidPayload]);

    let mut m = node(3);
    let out = accept(&mut m, &p);
    let v = votes(&out);
    assert_eq!(v.len(), 1);
    // The block is stored before the vote for it leaves, so it survives restarts.
    let stored = out
        .iter()
        .position(|a| matches!(a, Action::StoreBlock(b) if b.id() == p.block.id()));
    let sent = out.iter().position(|a| {
        matches!(
            a,
            Action::Send {
                message: Message::Vote(_),
                ..
            }
        )
    });
    assert!(stored.unwrap() < sent.unwrap());
    // A restart with that block can build on it without fetching.
    let mut r = Consensus::new(
        config(),
        3,
        key(3),
        Recovery {
            safety: m.safety().clone().into(),
            committed: genesis(),
            committed_blocks: vec![],
            blocks: vec![p.block.clone()],
        },
    )
    .unwrap();
    r.start();
    assert!(r.block(&p.block.id()).is_some());
    assert_eq!(v[0].1.block_id, p.block.id());
    assert!(persisted(&out).is_some_and(|s| s.last_voted_round == 1));
}

#[test]
fn conflicting_proposal_is_evidence_and_gets_no_second_vote() {
    let mut n = node(3);
    let a = proposal(1, &genesis_qc(), None, b"a");
    let b = proposal(1, &genesis_qc(), None, b"b");
    assert_eq!(votes(&accept(&mut n, &a)).len(), 1);
    let out = accept(&mut n, &b);
    assert!(votes(&out).is_empty());
    assert!(out.iter().any(
        |a| matches!(a, Action::ReportEvidence(Evidence::DoubleProposal { first, second })
        if first.author == 1 && first.round == 1 && first.block_id != second.block_id)
    ));
    assert!(rejections(&out).contains(&Rejection::Equivocation {
        author: 1,
        round: 1
    }));
}

#[test]
fn bad_certificates_are_rejected_with_their_reason() {
    let b1 = proposal(1, &genesis_qc(), None, b"a");
    let cases: Vec<(Vec<ValidatorIndex>, Rejection)> = vec![
        (vec![0, 0, 1], Rejection::DuplicateSigner(0)),
        (vec![0, 1], Rejection::NoQuorum("QC")),
        (vec![0, 1, 9], Rejection::UnknownValidator(9)),
    ];
    for (signers, reason) in cases {
        let mut n = node(3);
        accept(&mut n, &b1);
        let qc = qc_for(b1.block.info(), &signers);
        let p2 = proposal(2, &qc, None, b"b");
        let out = deliver(&mut n, 2, Message::Proposal(Box::new(p2)));
        assert_eq!(rejections(&out), vec![reason], "signers {signers:?}");
        assert_eq!(n.round(), 1, "a bad QC moves nothing");
    }
    // A corrupted signature among enough signers.
    let mut n = node(3);
    accept(&mut n, &b1);
    let mut qc = qc_for(b1.block.info(), &[0, 1, 2]);
    qc.signatures[1].signature.0[3] ^= 1;
    let out = deliver(
        &mut n,
        2,
        Message::Proposal(Box::new(proposal(2, &qc, None, b"b"))),
    );
    assert_eq!(rejections(&out), vec![Rejection::InvalidSignature("QC")]);
    // Signatures for another chain id.
    let mut n = node(3);
    let mut p = proposal(1, &genesis_qc(), None, b"a");
    p.signature = crypto::sign(
        &key(1),
        &crypto::proposal_message(CHAIN + 1, 1, &p.block.id()),
    );
    let out = deliver(&mut n, 1, Message::Proposal(Box::new(p)));
    assert_eq!(
        rejections(&out),
        vec![Rejection::InvalidSignature("proposal")]
    );
    // A proposal by a validator that does not lead the round.
    let mut n = node(3);
    let block = Block::new(1, 1, GENESIS, 2, vec![], vec![]);
    let p = Proposal::sign(CHAIN, block, genesis_qc(), None, &key(2));
    let out = deliver(&mut n, 2, Message::Proposal(Box::new(p)));
    assert_eq!(
        rejections(&out),
        vec![Rejection::NotLeader {
            round: 1,
            author: 2
        }]
    );
}

#[test]
fn next_leader_forms_a_qc_from_distinct_votes_and_records_vote_equivocation() {
    let mut n = node(2); // leads round 2
    let p1 = proposal(1, &genesis_qc(), None, b"a");
    let out = accept(&mut n, &p1);
    assert!(votes(&out).is_empty(), "the next leader keeps its own vote");
    let v0 = Vote::sign(CHAIN, p1.block.info(), 0, &key(0));
    deliver(&mut n, 0, Message::Vote(v0.clone()));
    let out = deliver(&mut n, 0, Message::Vote(v0));
    assert_eq!(rejections(&out), vec![Rejection::Duplicate]);
    assert_eq!(n.round(), 1);
    // Validator 0 votes for another block too: evidence, not counted.
    let other = Block::new(1, 1, GENESIS, 1, vec![], b"z".to_vec());
    let out = deliver(
        &mut n,
        0,
        Message::Vote(Vote::sign(CHAIN, other.info(), 0, &key(0))),
    );
    assert!(
        out.iter()
            .any(|a| matches!(a, Action::ReportEvidence(Evidence::DoubleVote { .. })))
    );
    assert_eq!(n.round(), 1);
    // A third distinct voter completes the quorum: QC, round 2, and a proposal request.
    let out = deliver(
        &mut n,
        3,
        Message::Vote(Vote::sign(CHAIN, p1.block.info(), 3, &key(3))),
    );
    assert_eq!(n.round(), 2);
    assert_eq!(n.highest_qc().block_id, p1.block.id());
    assert!(out.iter().any(
        |a| matches!(a, Action::BuildPayload { round: 2, parent } if parent.id == p1.block.id())
    ));
    let mut signers: Vec<_> = n.highest_qc().signatures.iter().map(|s| s.signer).collect();
    signers.dedup();
    assert_eq!(signers.len(), 3);
}

/// One liar's correctly signed vote for the right block at a wrong height, sent before the
/// honest votes, must not poison the QC the next leader forms (nor delay it): before the block
/// is known it counts apart from the honest votes; once the block is known it is refused.
#[test]
fn a_vote_for_the_right_block_at_a_wrong_height_never_poisons_the_qc() {
    let p1 = proposal(1, &genesis_qc(), None, b"a");
    let lie = |height| {
        Vote::sign(
            CHAIN,
            BlockInfo {
                height,
                ..p1.block.info()
            },
            1,
            &key(1),
        )
    };
    // The block is not known yet when the lie arrives.
    let mut n = node(2);
    deliver(&mut n, 1, Message::Vote(lie(7)));
    for v in [0, 3] {
        deliver(
            &mut n,
            v,
            Message::Vote(Vote::sign(CHAIN, p1.block.info(), v, &key(v))),
        );
    }
    assert_eq!(n.round(), 1, "two honest votes are not a quorum");
    accept(&mut n, &p1);
    assert_eq!(
        n.round(),
        2,
        "the leader's own vote completes the honest quorum"
    );
    let qc = n.highest_qc().clone();
    assert_eq!((qc.block_id, qc.height), (p1.block.id(), 1));
    assert!(
        qc.verify(CHAIN, &config().validators).is_ok(),
        "the QC verifies"
    );
    assert!(
        !qc.signatures.iter().any(|s| s.signer == 1),
        "the liar is not in it"
    );
    // The block is known: the lie is refused outright, and the liar's honest vote after it is
    // not double counted.
    let mut n = node(2);
    accept(&mut n, &p1);
    let out = deliver(&mut n, 1, Message::Vote(lie(5)));
    assert_eq!(
        rejections(&out),
        vec![Rejection::Malformed(
            "vote's height or round is not its block's"
        )]
    );
    for v in [0, 1] {
        deliver(
            &mut n,
            v,
            Message::Vote(Vote::sign(CHAIN, p1.block.info(), v, &key(v))),
        );
    }
    assert_eq!(n.round(), 2);
    assert_eq!(n.highest_qc().height, 1);
}

#[test]
fn vote_for_a_round_we_do_not_lead_next_is_refused() {
    let mut n = node(3);
    let p1 = proposal(1, &genesis_qc(), None, b"a");
    let v = Vote::sign(CHAIN, p1.block.info(), 0, &key(0));
    let out = deliver(&mut n, 0, Message::Vote(v));
    assert_eq!(rejections(&out), vec![Rejection::NotNextLeader(1)]);
}

fn timeout(round: Round, author: ValidatorIndex, high_qc: &QuorumCertificate) -> Timeout {
    Timeout::sign(CHAIN, round, high_qc.clone(), author, &key(author))
}

#[test]
fn a_reconnected_validator_gets_the_round_again_once() {
    let mut n = node(3);
    n.handle(Event::TimerFired { round: 1 });
    n.handle(Event::TimerFired { round: 1 }); // times out in round 1
    let out = n.handle(Event::PeerConnected { validator: 1 });
    assert!(
        out.iter().any(
            |a| matches!(a, Action::Broadcast { message: Message::Timeout(t) } if t.round == 1)
        ),
        "the round's timeout is sent again: {out:?}"
    );
    assert!(
        syncs(&out).iter().any(|(to, _)| *to == 1),
        "and this node's certificates to the validator that connected"
    );
    assert!(persisted(&out).is_none(), "nothing new is signed");
    let again = n.handle(Event::PeerConnected { validator: 1 });
    assert!(again.is_empty(), "once per validator and round: {again:?}");
    assert!(
        n.handle(Event::PeerConnected { validator: 3 }).is_empty(),
        "not to itself"
    );
    assert!(
        n.handle(Event::PeerConnected { validator: 9 }).is_empty(),
        "nor to a stranger"
    );
    assert!(!n.handle(Event::PeerConnected { validator: 0 }).is_empty());
}

#[test]
fn timeouts_form_a_tc_that_moves_to_the_next_round_with_backoff() {
    let mut n = node(3);
    // The first firing is at mid-round: nothing is signed, the timer is re-armed for the
    // rest of the round.
    let out = n.handle(Event::TimerFired { round: 1 });
    assert!(persisted(&out).is_none());
    assert!(!out.iter().any(|a| matches!(a, Action::Broadcast { .. })));
    assert!(out.iter().any(|a| matches!(a, Action::SetTimer { round: 1, duration } if *duration == Duration::from_millis(500))));
    let out = n.handle(Event::TimerFired { round: 1 });
    let s = persisted(&out).expect("the timeout is persisted before it leaves");
    assert_eq!(s.last_voted_round, 1);
    assert!(
        out.iter().any(
            |a| matches!(a, Action::Broadcast { message: Message::Timeout(t) } if t.round == 1)
        )
    );
    // A late proposal for round 1 gets no vote after the timeout.
    let out = accept(&mut n, &proposal(1, &genesis_qc(), None, b"a"));
    assert!(votes(&out).is_empty());
    deliver(&mut n, 0, Message::Timeout(timeout(1, 0, &genesis_qc())));
    assert_eq!(n.round(), 1);
    let out = deliver(&mut n, 1, Message::Timeout(timeout(1, 1, &genesis_qc())));
    assert_eq!(n.round(), 2, "three of four timeouts form a TC");
    let tc = n.safety().highest_tc.clone().unwrap();
    assert_eq!(tc.round, 1);
    assert!(persisted(&out).is_some_and(|s| s.highest_tc.as_ref().map(|t| t.round) == Some(1)));
    // Round 2 is the second round without a QC: still the base timeout (its first half is
    // armed first).
    assert_eq!(n.round_timeout(), Duration::from_millis(1000));
    assert!(out.iter().any(|a| matches!(a, Action::SetTimer { round: 2, duration } if *duration == Duration::from_millis(500))));
    // The round-2 leader's proposal carries the TC and is voted for.
    let p2 = proposal(2, &genesis_qc(), Some(tc), b"b");
    let out = accept(&mut n, &p2);
    // Node 3 leads round 3, so it keeps its vote: it is in the persisted safety data.
    assert!(persisted(&out).is_some_and(|s| s.last_vote.as_ref().is_some_and(|v| v.round == 2)));
}

fn broadcasts(actions: &[Action]) -> Vec<&Message> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Broadcast { message } => Some(message),
            _ => None,
        })
        .collect()
}

fn syncs(actions: &[Action]) -> Vec<(ValidatorIndex, SyncInfo)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send {
                to,
                message: Message::Sync(s),
            } => Some((*to, (**s).clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn mid_round_re_sends_the_proposal_and_the_vote_and_nudges_a_silent_leader() {
    // The leader of round 1 proposes and votes (its vote goes to the leader of round 2).
    let mut l = node_with(1, None, genesis());
    l.start();
    let out = l.handle(Event::PayloadBuilt {
        round: 1,
        parent: GENESIS,
        payload: b"txs".to_vec(),
    });
    let sent = votes(&out);
    let proposal = broadcasts(&out)[0].clone();
    // Mid-round, still in round 1: the same proposal and the same vote go out again,
    // nothing new is signed.
    let out = l.handle(Event::TimerFired { round: 1 });
    assert!(persisted(&out).is_none());
    assert_eq!(broadcasts(&out), vec![&proposal]);
    assert_eq!(votes(&out), sent);
    assert!(syncs(&out).is_empty(), "the leader has its own proposal");

    // A follower that voted re-sends its vote to the next leader.
    let p = proposal_of(&proposal);
    let mut f = node(3);
    let voted = votes(&accept(&mut f, &p));
    let out = f.handle(Event::TimerFired { round: 1 });
    assert_eq!(votes(&out), voted);
    assert!(syncs(&out).is_empty());

    // A follower without a proposal sends its certificates to the round's leader, in case
    // the leader missed how the round was entered; it signs nothing.
    let mut g = node(0);
    let out = g.handle(Event::TimerFired { round: 1 });
    assert!(votes(&out).is_empty() && broadcasts(&out).is_empty());
    let s = syncs(&out);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].0, 1);
    assert_eq!(s[0].1.highest_qc, genesis_qc());
    // The second firing is the timeout.
    let out = g.handle(Event::TimerFired { round: 1 });
    assert!(matches!(broadcasts(&out)[..], [Message::Timeout(t)] if t.round == 1));
}

fn proposal_of(m: &Message) -> Proposal {
    match m {
        Message::Proposal(p) => (**p).clone(),
        other => panic!("not a proposal: {other:?}"),
    }
}

#[test]
fn a_validator_behind_gets_the_certificates_that_end_its_round_once() {
    // Node 3 reaches round 2 through a TC of round 1.
    let mut n = node(3);
    for a in [0, 1, 2] {
        deliver(&mut n, a, Message::Timeout(timeout(1, a, &genesis_qc())));
    }
    assert_eq!(n.round(), 2);
    let tc = n.safety().highest_tc.clone().unwrap();
    // Validator 0 missed that TC and times out in round 1 again: it gets the TC back.
    let out = deliver(&mut n, 0, Message::Timeout(timeout(1, 0, &genesis_qc())));
    assert!(matches!(
        rejections(&out)[..],
        [Rejection::StaleRound { .. }]
    ));
    let s = syncs(&out);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].0, 0);
    assert_eq!(s[0].1.highest_tc.as_ref(), Some(&tc));
    // Only once per validator and round: a repeat (or a duplicate delivery) gets nothing.
    let out = deliver(&mut n, 0, Message::Timeout(timeout(1, 0, &genesis_qc())));
    assert!(syncs(&out).is_empty());
    // A forged stale timeout gets nothing either.
    let mut forged = timeout(1, 1, &genesis_qc());
    forged.signature.0[3] ^= 1;
    assert!(syncs(&deliver(&mut n, 1, Message::Timeout(forged))).is_empty());

    // The node behind takes the sync: it enters round 2 without waiting for its timer.
    let mut behind = node(0);
    deliver(&mut behind, 3, Message::Sync(Box::new(s[0].1.clone())));
    assert_eq!(behind.round(), 2);
    assert_eq!(behind.safety().highest_tc.as_ref(), Some(&tc));
    // A sync with a forged certificate is rejected and changes nothing.
    let mut bad = s[0].1.clone();
    if let Some(t) = bad.highest_tc.as_mut() {
        t.round = 5;
    }
    let mut other = node(1);
    let out = deliver(&mut other, 3, Message::Sync(Box::new(bad)));
    assert!(matches!(
        rejections(&out)[..],
        [Rejection::InvalidSignature("TC")]
    ));
    assert_eq!(other.round(), 1);
}

#[test]
fn a_block_must_record_the_signers_of_its_certificate() {
    let b1 = Block::new(1, 1, GENESIS, 1, vec![], vec![]);
    let qc1 = qc_for(b1.info(), &[0, 1, 3]);
    // Node 3 knows block 1 and its QC.
    let mut n = node(3);
    accept(&mut n, &proposal(1, &genesis_qc(), None, b""));
    let honest = proposal(2, &qc1, None, b"b");
    assert_eq!(honest.block.participants(), &[0, 1, 3]);
    let lie = Block::new(2, 2, qc1.block_id, 2, vec![0, 1, 2], b"b".to_vec());
    let lie = Proposal::sign(CHAIN, lie, qc1.clone(), None, &key(2));
    let out = deliver(&mut n, 2, Message::Proposal(Box::new(lie)));
    assert!(matches!(rejections(&out)[..], [Rejection::Malformed(_)]));
    assert!(votes(&out).is_empty());
}

#[test]
fn more_than_a_third_of_timeouts_makes_a_node_join() {
    let mut n = node(3);
    let out = deliver(&mut n, 0, Message::Timeout(timeout(1, 0, &genesis_qc())));
    assert!(!out.iter().any(|a| matches!(a, Action::Broadcast { .. })));
    let out = deliver(&mut n, 1, Message::Timeout(timeout(1, 1, &genesis_qc())));
    assert!(
        out.iter().any(
            |a| matches!(a, Action::Broadcast { message: Message::Timeout(t) } if t.author == 3)
        )
    );
    assert_eq!(n.round(), 2, "its own timeout completed the TC");
}

#[test]
fn a_higher_qc_in_a_timeout_syncs_a_lagging_node() {
    let mut n = node(3);
    let b1 = Block::new(1, 1, GENESIS, 1, vec![], vec![]);
    let b2 = Block::new(2, 2, b1.id(), 2, vec![], vec![]);
    let qc2 = qc_for(b2.info(), &[0, 1, 2]);
    deliver(&mut n, 0, Message::Timeout(timeout(3, 0, &qc2)));
    assert_eq!(n.round(), 3);
    assert_eq!(n.highest_qc().round, 2);
}

#[test]
fn far_future_and_stale_messages_are_rejected_without_growing_memory() {
    let mut n = node(3);
    let before = n.footprint();
    for r in 0..500u64 {
        let round = 1_000 + r;
        let b = Block::new(round, 5, Hash([1; 32]), 0, vec![], vec![]);
        let out = deliver(
            &mut n,
            0,
            Message::Vote(Vote::sign(CHAIN, b.info(), 0, &key(0))),
        );
        assert!(matches!(
            rejections(&out)[..],
            [Rejection::FutureRound { .. }]
        ));
        let out = deliver(
            &mut n,
            0,
            Message::Timeout(timeout(round, 0, &genesis_qc())),
        );
        assert!(matches!(
            rejections(&out)[..],
            [Rejection::FutureRound { .. }]
        ));
    }
    assert_eq!(n.footprint(), before);
    // Within the window, one timeout per validator per round is kept, duplicates are not.
    for r in 2..40u64 {
        for _ in 0..3 {
            deliver(&mut n, 0, Message::Timeout(timeout(r, 0, &genesis_qc())));
        }
    }
    let f = n.footprint();
    assert_eq!(f.timeouts, 38);
    assert!(f.timeouts <= n.footprint_bound().timeouts);
}

#[test]
fn two_chain_commits_in_order_exactly_once() {
    let mut n = node(3);
    let p1 = proposal(1, &genesis_qc(), None, b"1");
    accept(&mut n, &p1);
    let qc1 = qc_for(p1.block.info(), &[0, 1, 2]);
    let p2 = proposal(2, &qc1, None, b"2");
    let out = accept(&mut n, &p2);
    assert!(
        !out.iter().any(|a| matches!(a, Action::Commit { .. })),
        "one QC commits nothing"
    );
    let qc2 = qc_for(p2.block.info(), &[0, 1, 2]);
    let p3 = proposal(3, &qc2, None, b"3");
    let out = accept(&mut n, &p3);
    let commits: Vec<_> = out
        .iter()
        .filter_map(|a| match a {
            Action::Commit { block, commit_qc } => Some((block.id(), commit_qc.round)),
            _ => None,
        })
        .collect();
    assert_eq!(commits, vec![(p1.block.id(), 2)]);
    assert_eq!(n.committed().id, p1.block.id());
    // The same QC again (in a timeout) commits nothing more.
    let out = deliver(&mut n, 0, Message::Timeout(timeout(3, 0, &qc2)));
    assert!(!out.iter().any(|a| matches!(a, Action::Commit { .. })));
}

#[test]
fn non_consecutive_rounds_do_not_commit_but_a_later_two_chain_commits_all_ancestors() {
    let mut n = node(3);
    let p1 = proposal(1, &genesis_qc(), None, b"1");
    accept(&mut n, &p1);
    let qc1 = qc_for(p1.block.info(), &[0, 1, 2]);
    // Round 2 times out; round 3 extends QC 1 through a TC.
    let ts: Vec<_> = (0..3).map(|i| timeout(2, i, &qc1)).collect();
    let tc = TimeoutCertificate {
        round: 2,
        signatures: ts
            .iter()
            .map(|t| TimeoutSignature {
                signer: t.author,
                high_qc_round: 1,
                signature: t.signature,
            })
            .collect(),
        high_qc: qc1.clone(),
    };
    let p3 = proposal(3, &qc1, Some(tc), b"3");
    assert_eq!(votes(&accept(&mut n, &p3)).len(), 1);
    let qc3 = qc_for(p3.block.info(), &[0, 1, 2]);
    let p4 = proposal(4, &qc3, None, b"4");
    let out = accept(&mut n, &p4);
    assert!(
        !out.iter().any(|a| matches!(a, Action::Commit { .. })),
        "rounds 1 and 3 are not consecutive"
    );
    let qc4 = qc_for(p4.block.info(), &[0, 1, 2]);
    let p5 = proposal(5, &qc4, None, b"5");
    let out = accept(&mut n, &p5);
    let heights: Vec<_> = out
        .iter()
        .filter_map(|a| match a {
            Action::Commit { block, .. } => Some(block.height()),
            _ => None,
        })
        .collect();
    assert_eq!(
        heights,
        vec![1, 2],
        "block 3 commits with its ancestor, in order"
    );
}

#[test]
fn missing_parent_is_fetched_then_validated() {
    let mut n = node(3);
    let b1 = Block::new(1, 1, GENESIS, 1, vec![], b"1".to_vec());
    let qc1 = qc_for(b1.info(), &[0, 1, 2]);
    let p2 = proposal(2, &qc1, None, b"2");
    let out = deliver(&mut n, 2, Message::Proposal(Box::new(p2.clone())));
    assert!(
        out.iter()
            .any(|a| matches!(a, Action::FetchBlock { id, .. } if *id == b1.id()))
    );
    assert!(
        !out.iter()
            .any(|a| matches!(a, Action::ValidatePayload { .. }))
    );
    // Unrequested blocks are refused.
    let stray = Block::new(1, 1, GENESIS, 1, vec![], b"x".to_vec());
    let out = n.handle(Event::BlockFetched {
        blocks: vec![stray],
    });
    assert_eq!(rejections(&out), vec![Rejection::Unsolicited]);
    let out = n.handle(Event::BlockFetched { blocks: vec![b1] });
    assert!(
        out.iter()
            .any(|a| matches!(a, Action::ValidatePayload { block } if block.id() == p2.block.id()))
    );
}

/// A restarted node holds the blocks it voted for, not necessarily their parents: before it
/// builds on, or votes for a child of, a certified block, it fetches the missing ancestors.
#[test]
fn a_certified_block_whose_parent_is_missing_after_restart_is_completed_before_use() {
    let b1 = Block::new(1, 1, GENESIS, 1, vec![], b"1".to_vec());
    let qc1 = qc_for(b1.info(), &[0, 1, 2]);
    let b2 = proposal(2, &qc1, None, b"2").block;
    let qc2 = qc_for(b2.info(), &[0, 1, 2]);
    let mut safety = SafetyData::new(genesis());
    safety.highest_qc = qc2.clone();
    safety.last_voted_round = 2;
    let restarted = |i: ValidatorIndex| {
        Consensus::new(
            config(),
            i,
            key(i),
            Recovery {
                safety: Some(safety.clone()),
                committed: genesis(),
                committed_blocks: vec![],
                blocks: vec![b2.clone()],
            },
        )
        .unwrap()
    };
    let fetches_b1 = |out: &[Action]| {
        out.iter()
            .any(|a| matches!(a, Action::FetchBlock { id, .. } if *id == b1.id()))
    };

    // The leader of round 3 does not ask to build on b2 until it holds b1.
    let mut leader = restarted(3);
    let out = leader.start();
    assert!(fetches_b1(&out), "{out:?}");
    assert!(!out.iter().any(|a| matches!(a, Action::BuildPayload { .. })));
    let out = leader.handle(Event::BlockFetched {
        blocks: vec![b1.clone()],
    });
    assert!(
        out.iter().any(
            |a| matches!(a, Action::BuildPayload { round: 3, parent } if parent.id == b2.id())
        ),
        "{out:?}"
    );

    // A follower does not ask to validate b2's child until it holds b1.
    let mut follower = restarted(0);
    follower.start();
    let p3 = proposal(3, &qc2, None, b"3");
    let out = deliver(&mut follower, 3, Message::Proposal(Box::new(p3.clone())));
    assert!(fetches_b1(&out), "{out:?}");
    assert!(
        !out.iter()
            .any(|a| matches!(a, Action::ValidatePayload { .. }))
    );
    let out = follower.handle(Event::BlockFetched { blocks: vec![b1] });
    assert!(
        out.iter()
            .any(|a| matches!(a, Action::ValidatePayload { block } if block.id() == p3.block.id())),
        "{out:?}"
    );
}

#[test]
fn restart_resumes_after_the_highest_certificate_and_never_double_votes() {
    let mut n = node(3);
    let a = proposal(1, &genesis_qc(), None, b"a");
    let out = accept(&mut n, &a);
    // The driver persisted, then crashed before the vote left.
    let disk = persisted(&out).unwrap().clone();
    let mut restarted = node_with(3, Some(disk.clone()), genesis());
    restarted.start();
    let b = proposal(1, &genesis_qc(), None, b"b");
    let out = accept(&mut restarted, &b);
    assert!(
        votes(&out).is_empty(),
        "no second vote in round 1 after restart"
    );

    // The round after restart is one past the highest QC or TC.
    let mut s = disk;
    let b1 = Block::new(4, 4, Hash([3; 32]), 0, vec![], vec![]);
    s.highest_qc = qc_for(b1.info(), &[0, 1, 2]);
    let ts: Vec<_> = (0..3).map(|i| timeout(6, i, &s.highest_qc)).collect();
    s.highest_tc = Some(TimeoutCertificate {
        round: 6,
        signatures: ts
            .iter()
            .map(|t| TimeoutSignature {
                signer: t.author,
                high_qc_round: 4,
                signature: t.signature,
            })
            .collect(),
        high_qc: s.highest_qc.clone(),
    });
    let r = node_with(3, Some(s), genesis());
    assert_eq!(r.round(), 7);

    // Past genesis without safety data, the node runs (see the continuity test below).
    let committed = BlockInfo {
        id: Hash([5; 32]),
        round: 9,
        height: 3,
    };
    let n = Consensus::new(
        config(),
        3,
        key(3),
        Recovery {
            safety: None,
            committed,
            committed_blocks: vec![],
            blocks: vec![],
        },
    )
    .unwrap();
    assert_eq!(n.signing_floor(), None);
    let err = Consensus::new(
        config(),
        3,
        key(2),
        Recovery {
            safety: None,
            committed: genesis(),
            committed_blocks: vec![],
            blocks: vec![],
        },
    )
    .unwrap_err();
    assert_eq!(err, ConfigError::WrongKey(3));
}

#[test]
fn timer_backoff_grows_to_the_cap() {
    let t = config().timing;
    assert_eq!(t.timeout(0), Duration::from_millis(1000));
    assert_eq!(t.timeout(1), Duration::from_millis(2000));
    assert_eq!(t.timeout(3), Duration::from_millis(8000));
    assert_eq!(t.timeout(4), Duration::from_millis(10_000));
    assert_eq!(t.timeout(u64::MAX), Duration::from_millis(10_000));
}

#[test]
fn double_timeout_is_evidence_broadcast_once_and_peers_verify_gossiped_evidence() {
    let mut n = node(0);
    let b1 = proposal(1, &genesis_qc(), None, b"a");
    accept(&mut n, &b1);
    let qc1 = qc_for(b1.block.info(), &[1, 2, 3]);
    // Validator 3 times out in round 5 twice, once with each QC: an equivocation.
    let t1 = Timeout::sign(CHAIN, 5, genesis_qc(), 3, &key(3));
    let t2 = Timeout::sign(CHAIN, 5, qc1.clone(), 3, &key(3));
    deliver(&mut n, 3, Message::Timeout(t1.clone()));
    let out = deliver(&mut n, 3, Message::Timeout(t2.clone()));
    assert!(rejections(&out).contains(&Rejection::Equivocation {
        author: 3,
        round: 5
    }));
    let reported: Vec<&Evidence> = out
        .iter()
        .filter_map(|a| match a {
            Action::ReportEvidence(e) => Some(e),
            _ => None,
        })
        .collect();
    assert_eq!(reported.len(), 1);
    let evidence = reported[0].clone();
    assert_eq!(
        (evidence.culprit(), evidence.round(), evidence.kind()),
        (3, 5, EvidenceKind::DoubleTimeout)
    );
    assert!(out.iter().any(
        |a| matches!(a, Action::Broadcast { message: Message::Evidence(e) } if **e == evidence)
    ));
    // The same timeout again is a duplicate, not more evidence.
    let out = deliver(&mut n, 3, Message::Timeout(t2));
    assert!(!out.iter().any(|a| matches!(a, Action::ReportEvidence(_))));

    // Another validator learns it from gossip, verifies it, reports it once.
    let mut m = node(1);
    let out = deliver(&mut m, 2, Message::Evidence(Box::new(evidence.clone())));
    assert!(
        out.iter()
            .any(|a| matches!(a, Action::ReportEvidence(e) if *e == evidence))
    );
    let out = deliver(&mut m, 2, Message::Evidence(Box::new(evidence.clone())));
    assert_eq!(rejections(&out), vec![Rejection::Duplicate]);
    // Evidence framing an honest validator (its name on another key's signature) is refused.
    let mut framed_vote = Vote::sign(CHAIN, b1.block.info(), 2, &key(3));
    framed_vote.voter = 2;
    let framed = Evidence::DoubleVote {
        first: Vote::sign(CHAIN, b1.block.info(), 2, &key(2)),
        second: Vote {
            height: 9,
            ..framed_vote
        },
    };
    let out = deliver(&mut m, 3, Message::Evidence(Box::new(framed)));
    assert_eq!(
        rejections(&out),
        vec![Rejection::InvalidSignature("evidence")]
    );
    assert!(!out.iter().any(|a| matches!(a, Action::ReportEvidence(_))));
}

/// A chain of proposals in rounds 1..=last, each on the previous one's QC signed by 1, 2, 3.
fn chain_without_0(last: Round) -> Vec<(Proposal, QuorumCertificate)> {
    let mut qc = genesis_qc();
    let mut out = Vec::new();
    for round in 1..=last {
        let p = proposal(round, &qc, None, &[round as u8]);
        qc = qc_for(p.block.info(), &[1, 2, 3]);
        out.push((p, qc.clone()));
    }
    out
}

fn signed_anything(out: &[Action]) -> bool {
    out.iter().any(|a| {
        matches!(
            a,
            Action::Send {
                message: Message::Vote(_),
                ..
            } | Action::Broadcast {
                message: Message::Timeout(_) | Message::Proposal(_),
            }
        )
    })
}

#[test]
fn a_validator_that_lost_its_safety_data_signs_nothing_where_it_may_have_signed() {
    // Validator 0's database was wiped while the chain was in round 5; block sync (here: the
    // recovery's blocks) gave it the chain, not what it signed.
    let chain = chain_without_0(6);
    let blocks = chain[..4].iter().map(|(p, _)| p.block.clone()).collect();
    let mut n = Consensus::new(
        config(),
        0,
        key(0),
        Recovery {
            safety: None,
            committed: genesis(),
            committed_blocks: vec![],
            blocks,
        },
    )
    .unwrap();
    n.start();
    // The proposal of round 5 carries a QC of round 4: the network is far past what its
    // (empty) safety data says, so it may have signed in rounds up to 5.
    let out = accept(&mut n, &chain[4].0);
    assert_eq!(n.signing_floor(), Some(5));
    assert!(n.signing_paused());
    assert!(!signed_anything(&out), "voted in round 5: {out:?}");
    // Its round times out: it signs no timeout either.
    let out = n.handle(Event::TimerFired { round: 5 });
    let out2 = n.handle(Event::TimerFired { round: 5 });
    assert!(!signed_anything(&out) && !signed_anything(&out2));
    // Round 6 was entered on a certificate of round 5, beyond anything it signed: it votes.
    let out = accept(&mut n, &chain[5].0);
    assert!(!n.signing_paused());
    assert_eq!(votes(&out).len(), 1, "{out:?}");
    assert_eq!(votes(&out)[0].1.round, 6);
    // The vote is recorded: after a restart its data keeps up and is trusted at once.
    assert_eq!(n.safety().last_voted_round, 6);
}

#[test]
fn a_restored_old_copy_is_caught_by_its_own_signature() {
    // Safety data restored from round 2, but a QC of round 3 holds this validator's vote.
    let mut qc = genesis_qc();
    let mut props = Vec::new();
    for round in 1..=4 {
        let p = proposal(round, &qc, None, &[round as u8]);
        qc = qc_for(p.block.info(), &[0, 1, 2]);
        props.push((p, qc.clone()));
    }
    let mut old = SafetyData::new(genesis());
    old.last_voted_round = 2;
    old.highest_qc = props[1].1.clone();
    let blocks = props[..3].iter().map(|(p, _)| p.block.clone()).collect();
    let mut n = Consensus::new(
        config(),
        0,
        key(0),
        Recovery {
            safety: Some(old),
            committed: genesis(),
            committed_blocks: vec![],
            blocks,
        },
    )
    .unwrap();
    n.start();
    let out = accept(&mut n, &props[3].0);
    assert_eq!(n.signing_floor(), Some(4), "{out:?}");
    assert!(!signed_anything(&out));
}

#[test]
fn a_restored_old_copy_is_caught_by_the_committed_blocks_it_signed_for() {
    // Block sync brought blocks whose parents' QCs carry validator 1's votes up to round 3,
    // but its (restored) safety data stops at round 1.
    let chain = chain_without_0(4);
    let blocks: Vec<Block> = chain.iter().map(|(p, _)| p.block.clone()).collect();
    let mut old = SafetyData::new(genesis());
    old.last_voted_round = 1;
    let n = Consensus::new(
        config(),
        1,
        key(1),
        Recovery {
            safety: Some(old),
            committed: blocks[3].info(),
            committed_blocks: blocks,
            blocks: vec![],
        },
    )
    .unwrap();
    assert_eq!(n.signing_floor(), Some(4));
    // Its own data, current, would have been trusted.
    let chain = chain_without_0(4);
    let blocks: Vec<Block> = chain.iter().map(|(p, _)| p.block.clone()).collect();
    let mut current = SafetyData::new(genesis());
    current.last_voted_round = 4;
    let n = Consensus::new(
        config(),
        1,
        key(1),
        Recovery {
            safety: Some(current),
            committed: blocks[3].info(),
            committed_blocks: blocks,
            blocks: vec![],
        },
    )
    .unwrap();
    assert_eq!(n.signing_floor(), None);
}

#[test]
fn a_restored_old_copy_is_caught_by_the_blocks_it_receives() {
    // The blocks arrive after the start (fetched, or with proposals), not from the database.
    let chain = chain_without_0(4);
    let mut old = SafetyData::new(genesis());
    old.last_voted_round = 1;
    let mut n = node_with(1, Some(old), genesis());
    n.start();
    assert_eq!(n.signing_floor(), None);
    for (p, _) in &chain[..2] {
        deliver(
            &mut n,
            p.block.author(),
            Message::Proposal(Box::new(p.clone())),
        );
    }
    // Block 2's participants (1, 2, 3) signed the QC of round 1: within its data.
    assert_eq!(n.signing_floor(), None);
    deliver(
        &mut n,
        chain[2].0.block.author(),
        Message::Proposal(Box::new(chain[2].0.clone())),
    );
    // Block 3's participants signed round 2's QC: this validator did, and does not remember.
    assert_eq!(n.signing_floor(), Some(3));
}
