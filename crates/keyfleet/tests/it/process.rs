//! Running the real `keyfleet` binary: `serve` as a child process with captured output, and
//! the `admin` commands.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_keyfleet")
}

/// A scratch directory removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Self {
        let mut bytes = [0u8; 6];
        getrandom_bytes(&mut bytes);
        let dir = std::env::temp_dir().join(format!("keyfleet-{tag}-{}", hex(&bytes)));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    pub fn sqlite_url(&self) -> String {
        format!("sqlite://{}", self.0.join("keyfleet.db").display())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn getrandom_bytes(buf: &mut [u8]) {
    use std::io::Read as _;
    std::fs::File::open("/dev/urandom").unwrap().read_exact(buf).unwrap();
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Runs `keyfleet ARGS` to completion in `dir` with extra environment.
pub fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(bin());
    c.current_dir(dir)
        .args(args)
        .env_remove("RUST_LOG")
        // As from a shell: not "started by cargo run" (nextest sets the package's env).
        .env_remove("CARGO_PKG_NAME")
        .env("KEYFLEET_MASTER_KEY", MASTER_KEY);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run keyfleet")
}

/// `keyfleet admin ARGS --database-url URL`, which must succeed; its stdout.
pub fn admin(dir: &Path, database_url: &str, args: &[&str]) -> String {
    let mut all = vec!["admin"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--database-url", database_url]);
    run_ok(dir, &all, &[])
}

/// Like [`run`], asserting success; returns standard output.
pub fn run_ok(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = run(dir, args, env);
    assert!(
        out.status.success(),
        "keyfleet {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A running `keyfleet serve` with its output captured line by line.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    pub stdout: Arc<Mutex<Vec<String>>>,
    pub stderr: Arc<Mutex<Vec<String>>>,
    pub ready_ms: u64,
}

pub fn capture(r: impl std::io::Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let l = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines().map_while(Result::ok) {
            l.lock().unwrap().push(line);
        }
    });
    lines
}

impl Server {
    /// Starts `keyfleet serve` on a free loopback port with JSON logs; waits until it logs
    /// that it is ready.
    pub fn start(dir: &Path, database_url: &str, env: &[(&str, &str)]) -> Server {
        Self::start_with(
            dir,
            &["serve", "--listen", "127.0.0.1:0", "--database-url", database_url],
            env,
        )
    }

    /// Starts `keyfleet ARGS` (a `serve` command line) with JSON logs; waits until it logs
    /// that it is ready.
    pub fn start_with(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut c = Command::new(bin());
        c.current_dir(dir)
            .args(args)
            .env_remove("RUST_LOG")
            // As from a shell: not "started by cargo run" (nextest sets the package's env).
            .env_remove("CARGO_PKG_NAME")
            .env("KEYFLEET_LOG_FORMAT", "json")
            .env("KEYFLEET_MASTER_KEY", MASTER_KEY)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(Stdio::null());
        for (k, v) in env {
            c.env(k, v);
        }
        let mut child = c.spawn().expect("spawn keyfleet serve");
        let stdout = capture(child.stdout.take().unwrap());
        let stderr = capture(child.stderr.take().unwrap());
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = stderr.lock().unwrap().iter().find_map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).ok()?;
                (v["fields"]["message"] == "keyfleet is ready").then(|| {
                    (
                        v["fields"]["address"].as_str().unwrap().parse().unwrap(),
                        v["fields"]["ready_ms"].as_u64().unwrap(),
                    )
                })
            });
            if let Some((addr, ready_ms)) = ready {
                return Server {
                    child,
                    addr,
                    stdout,
                    stderr,
                    ready_ms,
                };
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("keyfleet serve exited with {status}: {:?}", stderr.lock().unwrap());
            }
            assert!(
                Instant::now() < deadline,
                "keyfleet serve did not become ready: {:?}",
                stderr.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stdout_text(&self) -> String {
        self.stdout.lock().unwrap().join("\n")
    }

    /// The setup code from the first-start banner, if one was printed.
    pub fn setup_code(&self) -> Option<String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let text = self.stdout_text();
            if let Some(i) = text.find("shown only now") {
                return text[i..].lines().nth(2).map(|l| l.trim().to_owned());
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every address the server listens on (the `addresses` of its ready line).
    pub fn addresses(&self) -> Vec<SocketAddr> {
        self.stderr
            .lock()
            .unwrap()
            .iter()
            .find_map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).ok()?;
                (v["fields"]["message"] == "keyfleet is ready").then(|| {
                    v["fields"]["addresses"]
                        .as_str()
                        .unwrap()
                        .split(' ')
                        .map(|a| a.parse().unwrap())
                        .collect()
                })
            })
            .unwrap()
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(Instant::now() < deadline, "keyfleet serve did not stop after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An access token (`Bearer …`) from the server `s` for the API client `creds` (the JSON
/// `keyfleet admin create-client` prints), by the client credentials grant.
pub fn client_credentials_bearer(s: &Server, creds: &serde_json::Value) -> String {
    let form = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        creds["client_id"].as_str().unwrap(),
        creds["client_secret"].as_str().unwrap()
    );
    let t = crate::http::request(
        s.addr,
        "POST",
        "/oauth2/token",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        Some(&form),
    );
    assert_eq!(t.status, 200, "{}", t.body);
    format!("Bearer {}", t.json()["access_token"].as_str().unwrap())
}
