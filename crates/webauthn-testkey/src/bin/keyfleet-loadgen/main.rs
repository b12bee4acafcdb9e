//! Load generator for complete WebAuthn sign-ins against a running `keyfleet serve`.
//!
//! 1. Setup: for each of `--users` users, `keyfleet admin create-user` and `issue-tap` on the
//!    server's database (the `keyfleet` binary and `--database-url` given), then a TAP sign-in
//!    and a key registration over HTTP with a software key ([`TestKey`]).
//! 2. Load: `--concurrency` workers, each with its own key (counters never race) and its own
//!    keep-alive connection, do username-less sign-ins (options + verify, persisted: counter
//!    compare-and-swap, session, audit event) in a loop for `--duration` seconds after a
//!    `--warmup`.
//! 3. Prints sign-ins per second, errors and latency percentiles of a whole sign-in, as JSON
//!    on standard output.
//!
//! `--mode code` measures single sign-on instead: each worker signs in once, then does
//! authorization-code flows (`/oauth2/authorize` with its session, the code exchanged at
//! `/oauth2/token` with PKCE and client_secret_basic) to an application made with `keyfleet
//! admin create-application`; `--mode refresh` has each worker rotate its own refresh token
//! (refresh-token grants); `--mode client_credentials` enrols nobody and has every worker ask
//! for access tokens for one API client made with `keyfleet admin create-client`
//! (client_secret_basic). The figures are then operations per second (`signInsPerSecond`
//! keeps its name: one operation).
//!
//! ```text
//! keyfleet-loadgen --addr 127.0.0.1:8080 --keyfleet target/release/keyfleet \
//!     --database-url sqlite://keyfleet.db --concurrency 16 --duration 20
//! ```
//!
//! The environment passes through to `keyfleet admin` (KEYFLEET_MASTER_KEY in particular).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

mod oidc;

use keyfleet_webauthn_testkey::TestKey;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;

struct Args {
    addr: SocketAddr,
    keyfleet: String,
    database_url: String,
    origin: String,
    users: usize,
    concurrency: usize,
    duration: Duration,
    warmup: Duration,
    prefix: String,
    /// Open loop: sign-ins started per second over all workers (0: each worker back to back).
    rate: f64,
    /// `signin`, `code`, `exchange`, `refresh` or `client_credentials`.
    mode: String,
    /// `exchange`: codes each worker gets before the clock starts.
    codes: usize,
}

const USAGE: &str = "usage: keyfleet-loadgen --addr HOST:PORT --keyfleet PATH --database-url URL \
[--origin URL (default: http://localhost:PORT of --addr)] [--users N (default: concurrency)] [--concurrency 16] \
[--duration 20] [--warmup 3] [--prefix lg] [--rate SIGN_INS_PER_SECOND] [--mode signin|code|exchange|refresh|client_credentials] [--codes N (exchange: per worker, default 2000)]";

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mut get = std::collections::BTreeMap::new();
    while let Some(flag) = it.next() {
        let name = flag.strip_prefix("--").ok_or_else(|| format!("unexpected {flag}"))?;
        if name == "help" {
            return Err(String::new());
        }
        let value = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
        get.insert(name.to_owned(), value);
    }
    let req = |k: &str| get.get(k).cloned().ok_or_else(|| format!("--{k} is required"));
    let num = |k: &str, d: u64| -> Result<u64, String> {
        get.get(k)
            .map_or(Ok(d), |v| v.parse().map_err(|_| format!("--{k}: not a number: {v}")))
    };
    let concurrency = usize::try_from(num("concurrency", 16)?).map_err(|e| e.to_string())?;
    let addr: SocketAddr = req("addr")?.parse().map_err(|e| format!("--addr: {e}"))?;
    Ok(Args {
        addr,
        keyfleet: req("keyfleet")?,
        database_url: req("database-url")?,
        // keyfleet's own default: its origins unset, http://localhost on the port it listens on.
        origin: get
            .get("origin")
            .cloned()
            .unwrap_or_else(|| format!("http://localhost:{}", addr.port())),
        users: usize::try_from(num("users", concurrency as u64)?).map_err(|e| e.to_string())?,
        concurrency,
        duration: Duration::from_secs(num("duration", 20)?),
        warmup: Duration::from_secs(num("warmup", 3)?),
        prefix: get.get("prefix").cloned().unwrap_or_else(|| "lg".into()),
        rate: get.get("rate").map_or(Ok(0.0), |v| {
            v.parse::<f64>().map_err(|_| format!("--rate: not a number: {v}"))
        })?,
        mode: match get.get("mode").map_or("signin", String::as_str) {
            m @ ("signin" | "code" | "exchange" | "refresh" | "client_credentials") => m.to_owned(),
            m => {
                return Err(format!(
                    "--mode: {m}: signin, code, exchange, refresh or client_credentials"
                ));
            }
        },
        codes: usize::try_from(num("codes", 2000)?).map_err(|e| e.to_string())?,
    })
}

/// A minimal HTTP/1.1 client on one keep-alive connection.
struct Conn {
    addr: SocketAddr,
    origin: String,
    io: Option<BufReader<TcpStream>>,
}

struct Reply {
    status: u16,
    cookie: Option<String>,
    location: Option<String>,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Result<Value, String> {
        serde_json::from_slice(&self.body).map_err(|e| format!("status {}: not JSON: {e}", self.status))
    }
}

impl Conn {
    fn new(addr: SocketAddr, origin: &str) -> Self {
        Self {
            addr,
            origin: origin.to_owned(),
            io: None,
        }
    }

    async fn post(&mut self, path: &str, cookie: Option<&str>, body: &Value) -> Result<Reply, String> {
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(c) = cookie {
            headers.push(("Cookie", c));
        }
        self.send("POST", path, &headers, body.to_string().as_bytes()).await
    }

    /// Sends a request (one retry on a fresh connection if the kept-alive one was closed
    /// under us).
    async fn send(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<Reply, String> {
        match self.try_send(method, path, headers, body).await {
            Ok(r) => Ok(r),
            Err(_) => {
                self.io = None;
                self.try_send(method, path, headers, body)
                    .await
                    .map_err(|e| e.to_string())
            }
        }
    }

    async fn try_send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<Reply> {
        if self.io.is_none() {
            let s = TcpStream::connect(self.addr).await?;
            s.set_nodelay(true)?;
            self.io = Some(BufReader::new(s));
        }
        let Some(io) = self.io.as_mut() else {
            return Err(std::io::Error::other("no connection"));
        };
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nOrigin: {}\r\nContent-Length: {}\r\n",
            self.addr,
            self.origin,
            body.len()
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        let mut bytes = req.into_bytes();
        bytes.extend_from_slice(body);
        io.get_mut().write_all(&bytes).await?;

        let mut line = String::new();
        if io.read_line(&mut line).await? == 0 {
            return Err(std::io::Error::other("connection closed"));
        }
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
        let (mut length, mut chunked, mut close, mut cookie, mut location) = (0usize, false, false, None, None);
        loop {
            line.clear();
            io.read_line(&mut line).await?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let Some((k, v)) = l.split_once(':') else { continue };
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            match k.as_str() {
                "content-length" => length = v.parse().unwrap_or(0),
                "transfer-encoding" => chunked = v.contains("chunked"),
                "connection" => close = v.eq_ignore_ascii_case("close"),
                "set-cookie" => cookie = v.split(';').next().map(str::to_owned),
                "location" => location = Some(v.to_owned()),
                _ => {}
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                line.clear();
                io.read_line(&mut line).await?;
                let n = usize::from_str_radix(line.trim(), 16).map_err(std::io::Error::other)?;
                let mut chunk = vec![0; n + 2];
                io.read_exact(&mut chunk).await?;
                if n == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..n]);
            }
        } else {
            body.resize(length, 0);
            io.read_exact(&mut body).await?;
        }
        if close {
            self.io = None;
        }
        Ok(Reply {
            status,
            cookie,
            location,
            body,
        })
    }
}

async fn admin(args: &Args, cli: &[&str]) -> Result<String, String> {
    let out = tokio::process::Command::new(&args.keyfleet)
        .arg("admin")
        .args(cli)
        .args(["--database-url", &args.database_url])
        .output()
        .await
        .map_err(|e| format!("{}: {e}", args.keyfleet))?;
    if !out.status.success() {
        return Err(format!(
            "keyfleet admin {cli:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Creates user `i`, signs in with a TAP and registers its key.
async fn enrol(args: &Args, i: usize) -> Result<TestKey, String> {
    let username = format!("{}{i}", args.prefix);
    let email = format!("{username}@example.com");
    admin(
        args,
        &[
            "create-user",
            "--username",
            &username,
            "--display-name",
            &username,
            "--email",
            &email,
        ],
    )
    .await?;
    let code = admin(args, &["issue-tap", "--username", &username, "--one-time"]).await?;
    let mut conn = Conn::new(args.addr, &args.origin);
    let tap = conn
        .post("/api/v1/auth/tap", None, &json!({ "username": username, "code": code }))
        .await?;
    let cookie = match (tap.status, tap.cookie) {
        (200, Some(c)) => c,
        (s, _) => return Err(format!("TAP sign-in: {s} {}", String::from_utf8_lossy(&tap.body))),
    };
    let options = conn
        .post("/api/v1/me/credentials/registration/options", Some(&cookie), &json!({}))
        .await?
        .json()?;
    let mut key = TestKey::from_seed(format!("keyfleet-loadgen {username}").as_bytes());
    let credential = key
        .register(&options["publicKey"], &args.origin)
        .map_err(|e| e.to_string())?;
    let verify = json!({ "ceremonyId": options["ceremonyId"], "nickname": "load", "credential": credential });
    let r = conn
        .post("/api/v1/me/credentials/registration/verify", Some(&cookie), &verify)
        .await?;
    if r.status != 201 {
        return Err(format!(
            "registration: {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        ));
    }
    Ok(key)
}

/// One complete username-less sign-in; the session cookie.
async fn sign_in(conn: &mut Conn, key: &mut TestKey, origin: &str) -> Result<String, String> {
    let options = conn.post("/api/v1/auth/webauthn/options", None, &json!({})).await?;
    if options.status != 200 {
        return Err(format!("options: {}", options.status));
    }
    let options = options.json()?;
    let credential = key.sign_in(&options["publicKey"], origin).map_err(|e| e.to_string())?;
    let verify = json!({ "ceremonyId": options["ceremonyId"], "credential": credential });
    let r = conn.post("/api/v1/auth/webauthn/verify", None, &verify).await?;
    if r.status != 200 {
        return Err(format!("verify: {} {}", r.status, String::from_utf8_lossy(&r.body)));
    }
    r.cookie.ok_or_else(|| "verify: no session cookie".to_owned())
}

/// What a worker repeats.
enum Op {
    /// A sign-in with its key.
    SignIn(Box<TestKey>),
    /// An authorization-code flow with its session.
    Code(String, std::sync::Arc<oidc::App>),
    /// The exchange of one of the codes minted before the clock started.
    Exchange(Vec<String>, std::sync::Arc<oidc::App>),
    /// A refresh-token grant with its refresh token.
    Refresh(String, std::sync::Arc<oidc::App>),
    /// A client-credentials grant for an API client.
    ClientCredentials(std::sync::Arc<oidc::App>),
}

impl Op {
    async fn once(&mut self, conn: &mut Conn, origin: &str) -> Result<(), String> {
        match self {
            Op::SignIn(key) => sign_in(conn, key, origin).await.map(|_| ()),
            Op::Code(cookie, app) => oidc::code_flow(conn, cookie, app).await.map(|_| ()),
            Op::Exchange(codes, app) => {
                let code = codes.pop().ok_or("exchange: out of codes (raise --codes)")?;
                oidc::exchange(conn, app, &code).await.map(|_| ())
            }
            Op::Refresh(token, app) => oidc::refresh(conn, app, token).await,
            Op::ClientCredentials(client) => oidc::client_credentials(conn, client).await,
        }
    }
}

#[derive(Default)]
struct Tally {
    ok: u64,
    errors: u64,
    first_error: Option<String>,
    latencies_us: Vec<u64>,
}

/// One worker's sign-ins. With `every` (open loop), the n-th sign-in is due at
/// `first + n × every` and its latency counts from then, so a slow server is charged for the
/// sign-ins that waited (no coordinated omission); without, sign-ins run back to back.
async fn worker(
    mut op: Op,
    args: (SocketAddr, String),
    (start, warmup, end): (Instant, Duration, Instant),
    pacing: Option<(Instant, Duration)>,
) -> Tally {
    let mut conn = Conn::new(args.0, &args.1);
    let mut t = Tally::default();
    let mut n = 0u32;
    while Instant::now() < end {
        let began = match pacing {
            Some((first, every)) => {
                let due = first + every * n;
                n += 1;
                if due >= end {
                    break;
                }
                tokio::time::sleep_until(due.into()).await;
                due
            }
            None => Instant::now(),
        };
        let r = op.once(&mut conn, &args.1).await;
        if began < start + warmup {
            continue;
        }
        match r {
            Ok(()) => {
                t.ok += 1;
                t.latencies_us
                    .push(u64::try_from(began.elapsed().as_micros()).unwrap_or(u64::MAX));
            }
            Err(e) => {
                t.errors += 1;
                t.first_error.get_or_insert(e);
            }
        }
    }
    t
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    // Nearest rank.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1] as f64 / 1000.0
}

async fn run(args: Args) -> Result<Value, String> {
    let setup = Instant::now();
    let mut keys = Vec::new();
    let users = if args.mode == "client_credentials" {
        0
    } else {
        args.users.max(args.concurrency)
    };
    for i in 0..users {
        keys.push(enrol(&args, i).await?);
    }
    eprintln!(
        "keyfleet-loadgen: {} users enrolled in {:.1} s",
        keys.len(),
        setup.elapsed().as_secs_f64()
    );
    let mut ops = Vec::new();
    if args.mode == "signin" {
        ops.extend(keys.into_iter().map(|k| Op::SignIn(Box::new(k))));
    } else if args.mode == "client_credentials" {
        let client = std::sync::Arc::new(oidc::create_client(&args).await?);
        ops.extend((0..args.concurrency).map(|_| Op::ClientCredentials(client.clone())));
    } else {
        let app = std::sync::Arc::new(oidc::create_app(&args).await?);
        let mut minting = Vec::new();
        for mut key in keys.into_iter().take(args.concurrency) {
            let mut conn = Conn::new(args.addr, &args.origin);
            let cookie = sign_in(&mut conn, &mut key, &args.origin).await?;
            if args.mode == "exchange" {
                // Each worker's codes, minted by all workers at once before the clock starts
                // (a code lives 60 s: keep warm-up + duration + minting under that).
                let (app, n, addr, origin) = (app.clone(), args.codes, args.addr, args.origin.clone());
                minting.push(tokio::spawn(async move {
                    let mut conn = Conn::new(addr, &origin);
                    let mut codes = Vec::with_capacity(n);
                    for _ in 0..n {
                        codes.push(oidc::authorize(&mut conn, &cookie, &app).await?);
                    }
                    Ok::<_, String>(Op::Exchange(codes, app))
                }));
                continue;
            }
            ops.push(if args.mode == "code" {
                Op::Code(cookie, app.clone())
            } else {
                let tokens = oidc::code_flow(&mut conn, &cookie, &app).await?;
                let refresh = tokens["refresh_token"].as_str().ok_or("no refresh_token")?;
                Op::Refresh(refresh.to_owned(), app.clone())
            });
        }
        let minted = Instant::now();
        for m in minting {
            ops.push(m.await.map_err(|e| e.to_string())??);
        }
        if args.mode == "exchange" {
            eprintln!(
                "keyfleet-loadgen: {} codes minted in {:.1} s",
                args.codes * ops.len(),
                minted.elapsed().as_secs_f64()
            );
        }
    }
    let start = Instant::now();
    let end = start + args.warmup + args.duration;
    let mut tasks = Vec::new();
    let workers = args.concurrency.max(1);
    for (i, op) in ops.into_iter().take(args.concurrency).enumerate() {
        let target = (args.addr, args.origin.clone());
        // Workers' schedules are interleaved evenly across one period.
        let pacing = (args.rate > 0.0).then(|| {
            let every = Duration::from_secs_f64(workers as f64 / args.rate);
            (start + every.mul_f64(i as f64 / workers as f64), every)
        });
        tasks.push(tokio::spawn(worker(op, target, (start, args.warmup, end), pacing)));
    }
    let mut all = Tally::default();
    for t in tasks {
        let t = t.await.map_err(|e| e.to_string())?;
        all.ok += t.ok;
        all.errors += t.errors;
        if all.first_error.is_none() {
            all.first_error = t.first_error;
        }
        all.latencies_us.extend(t.latencies_us);
    }
    all.latencies_us.sort_unstable();
    let secs = args.duration.as_secs_f64();
    Ok(json!({
        "mode": args.mode,
        "concurrency": args.concurrency,
        "rate": (args.rate > 0.0).then_some(args.rate),
        "durationSeconds": secs,
        "signIns": all.ok,
        "errors": all.errors,
        "firstError": all.first_error,
        "signInsPerSecond": (all.ok as f64 / secs * 10.0).round() / 10.0,
        "latencyMs": {
            "p50": percentile(&all.latencies_us, 50.0),
            "p90": percentile(&all.latencies_us, 90.0),
            "p99": percentile(&all.latencies_us, 99.0),
            "max": percentile(&all.latencies_us, 100.0),
        },
    }))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("keyfleet-loadgen: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("keyfleet-loadgen: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(args)) {
        Ok(v) => {
            println!("{v}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("keyfleet-loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}
