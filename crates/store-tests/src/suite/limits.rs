//! Reservations against rate limits, and the leases of scheduled jobs: the two contracts
//! that must hold however many callers (and processes) race.

use keyfleet_domain::Timestamp;
use keyfleet_domain::store::{JobState, Reservation, Stores};

use super::assert_not_found;
use crate::fixtures::{HOUR, MINUTE, T0, at};

fn granted(count: u32) -> Reservation {
    Reservation::Granted { count }
}

fn refused(retry_at: Timestamp) -> Reservation {
    Reservation::Refused { retry_at }
}

/// Up to `limit` reservations per window are granted, counted; the next is refused with the
/// window's end and changes nothing; after the window a new one starts at 1.
pub async fn rate_limit_reserve(s: &Stores) {
    let rl = &s.rate_limits;
    let w = MINUTE;
    assert_eq!(rl.reserve("tap:a", T0, w, 3).await.unwrap(), granted(1));
    assert_eq!(rl.reserve("tap:a", at(10), w, 3).await.unwrap(), granted(2));
    assert_eq!(rl.reserve("tap:a", at(20), w, 3).await.unwrap(), granted(3));
    for ms in [30, w - 1] {
        assert_eq!(rl.reserve("tap:a", at(ms), w, 3).await.unwrap(), refused(at(w)));
    }
    assert_eq!(rl.peek("tap:a", at(40), w).await.unwrap(), 3, "a refusal adds nothing");
    assert_eq!(
        rl.reserve("tap:b", at(40), w, 3).await.unwrap(),
        granted(1),
        "keys are independent"
    );
    assert_eq!(
        rl.reserve("tap:a", at(w), w, 3).await.unwrap(),
        granted(1),
        "a new window starts at its end"
    );
    assert_eq!(rl.reserve("tap:a", at(w + 1), w, 2).await.unwrap(), granted(2));
    assert_eq!(
        rl.reserve("tap:a", at(w + 2), w, 2).await.unwrap(),
        refused(at(2 * w)),
        "the new window ends a window after its first reservation"
    );
    assert_eq!(
        rl.hit("tap:a", at(w + 3), w).await.unwrap(),
        3,
        "hits count in the same window"
    );
    assert_eq!(
        rl.reserve("tap:c", T0, w, 0).await.unwrap(),
        refused(at(w)),
        "a zero limit grants nothing"
    );
    assert_eq!(rl.peek("tap:c", T0, w).await.unwrap(), 0);
}

/// However many reservations race on one key, exactly `limit` are granted (counts 1 to
/// `limit`, each once) and the others refused with the same window end.
pub async fn rate_limit_reserve_race(s: &Stores) {
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.rate_limits.reserve("signin:x", at(1), HOUR, 10).await })
        })
        .collect();
    let mut counts = Vec::new();
    for task in tasks {
        match task.await.expect("task").expect("reserve") {
            Reservation::Granted { count } => counts.push(count),
            Reservation::Refused { retry_at } => assert_eq!(retry_at, at(1 + HOUR)),
        }
    }
    counts.sort_unstable();
    assert_eq!(counts, (1..=10).collect::<Vec<u32>>(), "exactly the limit is granted");
    assert_eq!(s.rate_limits.peek("signin:x", at(2), HOUR).await.unwrap(), 10);
}

/// Releasing gives one reservation back, never below zero, and never in a window that has
/// passed; a released reservation can be taken again.
pub async fn rate_limit_release(s: &Stores) {
    let rl = &s.rate_limits;
    let w = MINUTE;
    for n in 1..=2 {
        assert_eq!(rl.reserve("k", T0, w, 2).await.unwrap(), granted(n));
    }
    assert_eq!(rl.reserve("k", at(1), w, 2).await.unwrap(), refused(at(w)));
    rl.release("k", at(2), w).await.unwrap();
    assert_eq!(rl.peek("k", at(3), w).await.unwrap(), 1);
    assert_eq!(rl.reserve("k", at(4), w, 2).await.unwrap(), granted(2), "given back");
    for _ in 0..3 {
        rl.release("k", at(5), w).await.unwrap();
    }
    assert_eq!(rl.peek("k", at(6), w).await.unwrap(), 0, "never below zero");
    assert_eq!(rl.reserve("k", at(7), w, 2).await.unwrap(), granted(1));

    rl.release("k", at(w), w).await.unwrap();
    assert_eq!(
        rl.peek("k", at(w - 1), w).await.unwrap(),
        1,
        "a window that has passed is left alone"
    );
    rl.release("unknown", T0, w)
        .await
        .expect("releasing an unknown key is fine");
    assert_eq!(rl.peek("unknown", T0, w).await.unwrap(), 0);
}

/// Registering, claiming when due, the lease, finishing, and a crashed holder's lease
/// expiring so that the next claimant runs the same due time.
pub async fn job_lease_rules(s: &Stores) {
    let j = &s.jobs;
    j.ensure_job("purge", at(MINUTE)).await.unwrap();
    j.ensure_job("purge", at(HOUR))
        .await
        .expect("a known job is left as it is");
    j.ensure_job("audit-export", at(0)).await.unwrap();
    assert_eq!(
        j.claim_job("purge", "a", T0, at(MINUTE)).await.unwrap(),
        None,
        "not due yet"
    );
    assert_eq!(
        j.claim_job("nope", "a", at(HOUR), at(2 * HOUR)).await.unwrap(),
        None,
        "unknown job"
    );

    let lease = at(2 * MINUTE);
    assert_eq!(
        j.claim_job("purge", "a", at(MINUTE), lease).await.unwrap(),
        Some(at(MINUTE))
    );
    assert_eq!(
        j.claim_job("purge", "b", at(MINUTE + 1), at(3 * MINUTE)).await.unwrap(),
        None,
        "leased"
    );
    assert_eq!(
        j.claim_job("purge", "a", at(MINUTE + 2), at(3 * MINUTE)).await.unwrap(),
        None,
        "even to its holder"
    );
    // a crashed: at the end of its lease b takes the same run over.
    assert_eq!(
        j.claim_job("purge", "b", lease, at(4 * MINUTE)).await.unwrap(),
        Some(at(MINUTE))
    );
    assert_not_found(j.finish_job("purge", "a", at(3 * MINUTE), at(HOUR), "ok").await);
    assert_not_found(j.finish_job("nope", "b", at(3 * MINUTE), at(HOUR), "ok").await);
    j.finish_job("purge", "b", at(3 * MINUTE), at(HOUR), "error")
        .await
        .expect("the holder finishes");
    assert_not_found(j.finish_job("purge", "b", at(3 * MINUTE), at(HOUR), "ok").await);

    let jobs = j.list_jobs().await.unwrap();
    assert_eq!(
        jobs,
        [
            JobState {
                job: "audit-export".into(),
                due_at: at(0),
                lease_holder: None,
                lease_until: None,
                last_finished_at: None,
                last_outcome: None,
            },
            JobState {
                job: "purge".into(),
                due_at: at(HOUR),
                lease_holder: None,
                lease_until: None,
                last_finished_at: Some(at(3 * MINUTE)),
                last_outcome: Some("error".into()),
            },
        ]
    );
    assert_eq!(
        j.claim_job("purge", "a", at(HOUR - 1), at(2 * HOUR)).await.unwrap(),
        None
    );
    assert_eq!(
        j.claim_job("purge", "a", at(HOUR), at(2 * HOUR)).await.unwrap(),
        Some(at(HOUR))
    );
    let leased = j
        .list_jobs()
        .await
        .unwrap()
        .into_iter()
        .find(|x| x.job == "purge")
        .unwrap();
    assert_eq!(
        (leased.lease_holder.as_deref(), leased.lease_until),
        (Some("a"), Some(at(2 * HOUR)))
    );
}

/// Ten claimants (alternating between two handles on one database: two processes) race for
/// each due run, twenty runs over: exactly one claims each.
pub async fn job_claim_race(a: &Stores, b: &Stores) {
    a.jobs.ensure_job("race", T0).await.unwrap();
    for run in 0..20 {
        let now = at(run * HOUR);
        let tasks: Vec<_> = (0..10)
            .map(|i| {
                let s = if i % 2 == 0 { a.clone() } else { b.clone() };
                let holder = format!("holder-{i}");
                tokio::spawn(async move {
                    let claim = s
                        .jobs
                        .claim_job("race", &holder, now, now.plus(std::time::Duration::from_secs(60)))
                        .await;
                    (holder, claim)
                })
            })
            .collect();
        let mut winners = Vec::new();
        for task in tasks {
            let (holder, claim) = task.await.expect("task");
            if let Some(due) = claim.expect("claim") {
                assert_eq!(due, now, "run {run}: the due time");
                winners.push(holder);
            }
        }
        assert_eq!(winners.len(), 1, "run {run}: exactly one claim: {winners:?}");
        b.jobs
            .finish_job("race", &winners[0], now, at((run + 1) * HOUR), "ok")
            .await
            .expect("the winner finishes");
    }
}

/// [`job_claim_race`] on one handle.
pub async fn job_claim_race_one_handle(s: &Stores) {
    job_claim_race(s, s).await;
}
