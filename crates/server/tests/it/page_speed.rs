//! The console and portal pages with 10 000 users and 30 000 keys in the database (issue 4 asked
//! for every page under 50 ms at the 95th percentile, with 1 000 users; issue 10 raised the
//! fleet tenfold and added the dashboard, the registration report and its CSV export). The
//! fleet ([`crate::big_fleet`]) is written in one transaction of multi-row inserts; on
//! PostgreSQL it is then analysed, as autovacuum would within a minute of such a load. Each
//! page is requested through the whole router (middleware, session lookup, store queries,
//! template) 40 times after 3 warm-ups, one request at a time; the export of all 10 001 users
//! 8 times after one warm-up.
//!
//! The regression guard is the work a page asks of the database, not the clock: every page runs
//! at most [`MAX_STATEMENTS`] statements and reads at most [`MAX_ROWS`] rows, whatever the size
//! of the fleet (counted from sqlx's own statement events, [`crate::statements`]), so a page
//! that starts reading a whole table or querying once per listed row fails here on any
//! machine. Render times are measured and printed, and never asserted (a busy CI machine ran
//! these pages seven times slower than a quiet one); `docs/performance.md` holds the figures
//! against the 50 ms budget.
//!
//! Run with `cargo nextest run -p keyfleet-server page_speed --no-capture` to see the table.
//! A debug build measures an upper bound (the release binary is faster).

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use keyfleet_core::reports::EXPORT_BATCH;
use keyfleet_domain::audit::Action;
use keyfleet_domain::user::{Role, Username};
use keyfleet_store_postgres::PgStore;
use keyfleet_store_sql::exec;
use keyfleet_store_sqlite::SqliteStore;
use keyfleet_store_tests::postgres::throwaway_postgres;
use keyfleet_store_tests::sqlite::TempSqlite;
use rand_core::OsRng;

use crate::big_fleet::{self, Placeholders, USERS};
use crate::harness::{Auth, Backend, TestApp};
use crate::on_both_stores;
use crate::statements::{self, Tally};

on_both_stores!(every_page_reads_a_bounded_part_of_10000_users_and_30000_keys);

/// Statements one page may run (the session's lookup and touch included).
const MAX_STATEMENTS: u64 = 16;
/// Rows one page may read: a page of 50 people with their keys, and room to spare; any table of
/// the fleet read whole is at least 10 000.
const MAX_ROWS: u64 = 500;
const WARM_UPS: usize = 3;
const SAMPLES: usize = 40;
const EXPORT_SAMPLES: usize = 8;

/// The `q`-th quantile of sorted `times` (nearest rank).
fn quantile(times: &[Duration], q: f64) -> Duration {
    let rank = (q * times.len() as f64).ceil() as usize;
    times[rank.clamp(1, times.len()) - 1]
}

async fn timed(app: &TestApp, path: &str, cookie: &str) -> (Duration, Vec<u8>) {
    let req = Request::get(path)
        .header(header::COOKIE, cookie)
        .header(header::ACCEPT, "text/html")
        .body(Body::empty())
        .unwrap();
    let t = Instant::now();
    let r = app.send(req).await;
    let took = t.elapsed();
    assert_eq!(r.status, StatusCode::OK, "{path}: {}", String::from_utf8_lossy(&r.body));
    let kind = r.headers[header::CONTENT_TYPE].to_str().unwrap();
    assert!(
        kind.starts_with("text/html") || kind.starts_with("text/csv"),
        "{path}: {kind}"
    );
    (took, r.body)
}

/// The fleet on a fresh database of `b`, and the app on it; how long seeding took.
async fn fleet_app(b: Backend, file: &TempSqlite) -> (TestApp, Duration, big_fleet::Seeded) {
    let now = keyfleet_server::state::now();
    let t = Instant::now();
    let (url, db, seeded) = match b {
        Backend::Sqlite => {
            let store = SqliteStore::connect(&file.url()).await.unwrap();
            let seeded = big_fleet::seed(&store, now, Placeholders::Question).await;
            store.close().await;
            (file.url(), None, seeded)
        }
        Backend::Postgres => {
            let (url, db) = throwaway_postgres().await;
            let store = PgStore::connect(&url).await.unwrap();
            let seeded = big_fleet::seed(&store, now, Placeholders::Dollar).await;
            let mut conn = store.pool().acquire().await.unwrap();
            exec::execute::<keyfleet_store_postgres::PgBackend>(&mut conn, "VACUUM ANALYZE", &[])
                .await
                .unwrap();
            drop(conn);
            store.close().await;
            (url, Some(db), seeded)
        }
    };
    let took = t.elapsed();
    (TestApp::on_url(url, db, &[], None).await, took, seeded)
}

async fn every_page_reads_a_bounded_part_of_10000_users_and_30000_keys(b: Backend) {
    crate::statements::install();
    let file = TempSqlite::new();
    let (app, seeded_in, seeded) = fleet_app(b, &file).await;
    assert_eq!(app.state.stores.users.count_users().await.unwrap(), USERS as u64);
    assert_eq!(app.state.stores.credentials.count_credentials().await.unwrap(), 30_000);

    let admin = app.user("root", Role::Admin).await;
    let admin_cookie = app.full_session(&admin).await;
    // user05005 holds five keys (5005 % 8 == 5) and is enabled.
    let worker = app
        .state
        .stores
        .users
        .find_user_by_username(&Username::parse(&big_fleet::username(5005)).unwrap())
        .await
        .unwrap()
        .unwrap();
    let worker_cookie = app.full_session(&worker).await;
    let worker_keys = app
        .state
        .stores
        .credentials
        .list_user_credentials(worker.id)
        .await
        .unwrap();
    assert_eq!(worker_keys.len(), 5);
    let key = keyfleet_core::credentials::ceremony::b64(&worker_keys[0].id);
    let group = keyfleet_domain::group::Group {
        id: keyfleet_domain::GroupId::new_random(&mut OsRng),
        name: "Field staff".into(),
        name_key: "field staff".into(),
        description: "Everyone in the field".into(),
        created_at: app.state.now(),
    };
    let audit = app.system().audit(Action::GroupCreate, None);
    app.state.stores.groups.create_group(&group, &audit).await.unwrap();
    for i in 0..200 {
        let member = app
            .state
            .stores
            .users
            .find_user_by_username(&Username::parse(&big_fleet::username(i * 37)).unwrap())
            .await
            .unwrap()
            .unwrap();
        let audit = app.system().audit(Action::GroupMemberAdd, None);
        app.state
            .stores
            .groups
            .add_member(group.id, member.id, &audit)
            .await
            .unwrap();
    }

    let lost_since = keyfleet_server::state::rfc3339(app.state.now().minus(Duration::from_secs(30 * 86_400)));
    let nfc = "3559c435-ff17-4bc9-b942-325c1f348b94";
    let paths: Vec<(String, &str)> = vec![
        ("/login".into(), ""),
        ("/security-info".into(), worker_cookie.as_str()),
        (format!("/security-info/keys/{key}/remove"), worker_cookie.as_str()),
        (format!("/security-info/keys/{key}/lost"), worker_cookie.as_str()),
        ("/admin".into(), admin_cookie.as_str()),
        ("/admin?unused_days=30".into(), admin_cookie.as_str()),
        ("/admin/users".into(), admin_cookie.as_str()),
        ("/admin/users?q=user05".into(), admin_cookie.as_str()),
        (
            "/admin/users?q=example.com&after=user05000".into(),
            admin_cookie.as_str(),
        ),
        (format!("/admin/users/{}", worker.id), admin_cookie.as_str()),
        ("/admin/groups".into(), admin_cookie.as_str()),
        (format!("/admin/groups/{}", group.id), admin_cookie.as_str()),
        ("/admin/clients".into(), admin_cookie.as_str()),
        ("/admin/audit".into(), admin_cookie.as_str()),
        ("/admin/audit?action=credential.".into(), admin_cookie.as_str()),
        (
            format!(
                "/admin/audit?action=credential.lost&from={}",
                lost_since.replace(':', "%3A")
            ),
            admin_cookie.as_str(),
        ),
        ("/admin/reports/registration".into(), admin_cookie.as_str()),
        (
            "/admin/reports/registration?after=user05000".into(),
            admin_cookie.as_str(),
        ),
        ("/admin/reports/registration?q=user05".into(), admin_cookie.as_str()),
        ("/admin/reports/registration?enabled=no".into(), admin_cookie.as_str()),
        ("/admin/reports/registration?keys=without".into(), admin_cookie.as_str()),
        (
            "/admin/reports/registration?unused_days=90".into(),
            admin_cookie.as_str(),
        ),
        ("/admin/reports/registration?cloned=1".into(), admin_cookie.as_str()),
        (
            "/admin/reports/registration?pending_tap=1".into(),
            admin_cookie.as_str(),
        ),
        (
            format!("/admin/reports/registration?model={nfc}"),
            admin_cookie.as_str(),
        ),
        ("/admin/reports/registration?model=other".into(), admin_cookie.as_str()),
        (
            "/admin/reports/registration?cloned=1&enabled=no&pending_tap=1".into(),
            admin_cookie.as_str(),
        ),
    ];
    let (_, dashboard) = timed(&app, "/admin", &admin_cookie).await;
    let dashboard = String::from_utf8(dashboard).unwrap();
    assert!(dashboard.contains("id=\"users-total\" href=\"/admin/reports/registration\">10,001</a>"));
    assert!(dashboard.contains(">30,000</a>"));

    let mut report = format!(
        "{b:?}: {USERS} users, {} keys, {} audit events, seeded in {:.1} s\n{:<72} {:>8} {:>8} {:>8} {:>6} {:>6}\n",
        seeded.keys,
        seeded.events,
        seeded_in.as_secs_f64(),
        "page",
        "p50 ms",
        "p95 ms",
        "max ms",
        "stmts",
        "rows"
    );
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mut over = Vec::new();
    let mut seen_statements = 0;
    // One line of the table from `times` and the tally of `samples` requests (per request,
    // rounded up), and the page's work checked against its bounds.
    let mut measure = |path: &str, times: &mut Vec<Duration>, tally: Tally, bounds: Tally| {
        times.sort();
        let (p50, p95, max) = (quantile(times, 0.5), quantile(times, 0.95), times[times.len() - 1]);
        let n = times.len() as u64;
        seen_statements += tally.statements;
        let per = Tally {
            statements: tally.statements.div_ceil(n),
            rows: tally.rows.div_ceil(n),
        };
        report.push_str(&format!(
            "{path:<72} {:>8.2} {:>8.2} {:>8.2} {:>6} {:>6}\n",
            ms(p50),
            ms(p95),
            ms(max),
            per.statements,
            per.rows
        ));
        if per.statements > bounds.statements || per.rows > bounds.rows {
            over.push(format!(
                "{path}: {} statements and {} rows per request (at most {} and {})",
                per.statements, per.rows, bounds.statements, bounds.rows
            ));
        }
    };
    let page_bounds = Tally {
        statements: MAX_STATEMENTS,
        rows: MAX_ROWS,
    };
    for (path, cookie) in &paths {
        for _ in 0..WARM_UPS {
            timed(&app, path, cookie).await;
        }
        statements::take();
        let mut times = Vec::with_capacity(SAMPLES);
        for _ in 0..SAMPLES {
            times.push(timed(&app, path, cookie).await.0);
        }
        measure(path, &mut times, statements::take(), page_bounds);
    }

    // The export: every user once (the fleet and root), in one attachment, read in batches. Its
    // bounds follow the fleet: a row per user (their keys folded into it), a statement per
    // batch.
    let export = "/admin/reports/registration.csv";
    let (_, body) = timed(&app, export, admin_cookie.as_str()).await;
    let records = String::from_utf8(body).unwrap().matches("\r\n").count();
    assert_eq!(records, USERS + 2, "a header and every user");
    statements::take();
    let mut times = Vec::with_capacity(EXPORT_SAMPLES);
    for _ in 0..EXPORT_SAMPLES {
        times.push(timed(&app, export, admin_cookie.as_str()).await.0);
    }
    let export_bounds = Tally {
        statements: MAX_STATEMENTS + (USERS as u64 + 1).div_ceil(u64::from(EXPORT_BATCH)),
        rows: USERS as u64 + 1 + MAX_ROWS,
    };
    measure(export, &mut times, statements::take(), export_bounds);

    // The lock-out preview of a policy for everyone that blocks one model: every person with
    // a key is looked at, 500 at a time, their keys, groups and models read in one query each
    // per page (a few statements per page of people, not two per person).
    let preview = "/api/v1/policies/preview";
    let body = serde_json::json!({
        "policy": {"name": "No NFC key", "includeGroups": ["all"], "keyRestrictions": {"enforcement": "block", "aaguids": [nfc]}}
    });
    let post = || app.call(Method::POST, preview, Auth::Cookie(&admin_cookie), Some(body.clone()));
    let r = post().await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
    let refused = r.json()["credentialsRefused"].as_u64().unwrap();
    assert!(refused > 1_000, "the fleet's keys of that model: {}", r.json());
    statements::take();
    let mut times = Vec::with_capacity(EXPORT_SAMPLES);
    for _ in 0..EXPORT_SAMPLES {
        let t = Instant::now();
        let r = post().await;
        times.push(t.elapsed());
        assert_eq!(r.json()["credentialsRefused"].as_u64(), Some(refused));
    }
    let pages = (USERS as u64 + 1).div_ceil(500);
    let preview_bounds = Tally {
        statements: MAX_STATEMENTS + 4 * pages,
        rows: USERS as u64 + 1 + seeded.keys as u64 + MAX_ROWS,
    };
    measure(preview, &mut times, statements::take(), preview_bounds);

    eprintln!("{report}");
    assert!(
        seen_statements >= SAMPLES as u64 * paths.len() as u64,
        "the recorder saw {seen_statements} statements in all: it does not see sqlx's events"
    );
    assert!(over.is_empty(), "pages over their bounds: {over:?}\n{report}");
}
