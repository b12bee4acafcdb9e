//! The jobs runner: on one database shared by several processes, exactly one of them runs a
//! due run; a run whose holder died is taken over when its lease expires.

use std::sync::Arc;
use std::time::Duration;

use keyfleet_core::jobs::Job;
use keyfleet_domain::time::ManualClock;
use keyfleet_server::jobs::{LEASE, run_due};

use crate::harness::{Backend, TestApp};
use crate::webauthn_kit::audit_actions;

/// `instances` keyfleets on one database, each with its own pool (as separate processes
/// have), all on one clock.
async fn instances(b: Backend, n: usize, clock: Arc<ManualClock>) -> Vec<TestApp> {
    let (url, db) = match b {
        Backend::Sqlite => {
            let dir = std::env::temp_dir().join(format!("keyfleet-jobs-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join(format!("{}.db", rand_core::RngCore::next_u64(&mut rand_core::OsRng)));
            (format!("sqlite://{}?mode=rwc", path.display()), None)
        }
        Backend::Postgres => {
            let (url, db) = keyfleet_store_tests::postgres::throwaway_postgres().await;
            (url, Some(db))
        }
    };
    let mut apps = vec![TestApp::on_url(url.clone(), db, &[], Some(clock.clone())).await];
    for _ in 1..n {
        apps.push(TestApp::on_url(url.clone(), None, &[], Some(clock.clone())).await);
    }
    apps
}

async fn exactly_one_instance_runs_each_due_run(b: Backend) {
    let clock = Arc::new(ManualClock::new(keyfleet_server::state::now()));
    let apps = Arc::new(instances(b, 4, clock.clone()).await);
    for round in 0..3 {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..apps.len() {
            for j in 0..3 {
                let apps = apps.clone();
                tasks.spawn(async move { run_due(&apps[i].state.core, &format!("instance-{i}-{j}")).await.len() });
            }
        }
        let mut ran = 0;
        while let Some(n) = tasks.join_next().await {
            ran += n.unwrap();
        }
        assert_eq!(ran, 1, "round {round}: one run among 12 claimants");
        assert_eq!(audit_actions(&apps[0], "job.run").await.len(), round + 1);
        // Not due again until its interval has passed.
        assert!(run_due(&apps[1].state.core, "late").await.is_empty());
        clock.advance(Job::Housekeeping.interval());
    }
    let jobs = apps[0].state.stores.jobs.list_jobs().await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].last_outcome.as_deref(), Some("ok"));
    assert!(jobs[0].lease_holder.is_none());
}

async fn a_dead_holders_run_is_taken_over_after_its_lease(b: Backend) {
    let clock = Arc::new(ManualClock::new(keyfleet_server::state::now()));
    let apps = instances(b, 2, clock.clone()).await;
    let core = &apps[0].state.core;
    let now = clock.now_ts();
    core.stores.jobs.ensure_job("housekeeping", now).await.unwrap();
    // Instance 0 claims the run and dies before finishing it.
    let claimed = core
        .stores
        .jobs
        .claim_job("housekeeping", "dead", now, now.plus(LEASE))
        .await
        .unwrap();
    assert!(claimed.is_some());
    assert!(
        run_due(&apps[1].state.core, "alive").await.is_empty(),
        "the lease holds"
    );
    clock.advance(LEASE + Duration::from_secs(1));
    assert_eq!(run_due(&apps[1].state.core, "alive").await, [Job::Housekeeping]);
    // The dead holder's late finish is refused: the run belongs to the new holder now.
    let late = core
        .stores
        .jobs
        .finish_job("housekeeping", "dead", clock.now_ts(), clock.now_ts(), "ok")
        .await;
    assert!(matches!(late, Err(keyfleet_domain::StoreError::NotFound)), "{late:?}");
}

trait NowTs {
    fn now_ts(&self) -> keyfleet_domain::Timestamp;
}

impl NowTs for ManualClock {
    fn now_ts(&self) -> keyfleet_domain::Timestamp {
        keyfleet_domain::time::Clock::now(self)
    }
}

mod exactly_one {
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite() {
        super::exactly_one_instance_runs_each_due_run(super::Backend::Sqlite).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres() {
        super::exactly_one_instance_runs_each_due_run(super::Backend::Postgres).await
    }
}

crate::on_both_stores!(a_dead_holders_run_is_taken_over_after_its_lease);
