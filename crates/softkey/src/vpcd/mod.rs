//! The bridge to pcscd through vsmartcard's virtual reader driver, vpcd.
//!
//! vpcd listens on TCP (default `127.0.0.1:35963`, as configured by Debian's
//! `/etc/reader.conf.d/vpcd`); a virtual card connects to it. Every message in both directions is
//! a two-byte big-endian length followed by the payload. From the reader, a one-byte payload is a
//! control byte ([`POWER_OFF`], [`POWER_ON`], [`RESET`], [`GET_ATR`]) and anything longer is a
//! command APDU; the card answers `GET_ATR` with its ATR and each APDU with the response APDU.
//!
//! Mapping to NFC: power off and on are the field going off and on; closing the connection is
//! taking the key off the reader and reconnecting is a new tap. The bridge reconnects with backoff
//! whenever pcscd or vpcd goes away.
//!
//! Latency: vpcd sends the length and the payload in separate segments, so with delayed ACKs on
//! our side Nagle's algorithm on vpcd's side stalls each APDU for about 40 ms. Setting
//! `TCP_QUICKACK` before **every** read avoids it (Linux clears the flag again by itself).
//!
//! The key can be lifted off the reader and put back ([`Bridge::lift`], [`Bridge::place`]) from
//! the control socket ([`serve_control`]), and on its own after the Nth power-off
//! ([`BridgeConfig::lift_after_power_offs`]). The automatic lift happens once per placement: the
//! key comes back by itself after [`BridgeConfig::replace_after`], and that return does not
//! re-arm it; the next `place` (or a new bridge) does.

#[cfg(test)]
mod tests;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::os::linux::net::TcpStreamExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use keyfleet_ctap_transport::atr::ATR;
use keyfleet_ctap_transport::{Applet, CardConfig, NfcCard};

/// Where Debian's vpcd listens for the first virtual card slot.
pub const DEFAULT_ADDR: &str = "127.0.0.1:35963";
/// Control byte: the reader powers the card down (NFC field off).
pub const POWER_OFF: u8 = 0x00;
/// Control byte: the reader powers the card up (NFC field on).
pub const POWER_ON: u8 = 0x01;
/// Control byte: warm reset (field off, then on).
pub const RESET: u8 = 0x02;
/// Control byte: the reader asks for the ATR.
pub const GET_ATR: u8 = 0x04;

const BACKOFF_MIN: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(2);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const PLACE_WAIT: Duration = Duration::from_secs(5);

/// What the bridge puts on the reader: a FIDO applet that can also answer test-control commands.
pub trait ReaderKey: Applet + Send + 'static {
    /// A control-socket command other than `lift`, `place` and `status`, split into words.
    /// `None` means "unknown command".
    fn control(&mut self, words: &[&str]) -> Option<Result<String, String>> {
        let _ = words;
        None
    }

    /// A short description of the key for `status` (model, band worn, …).
    fn describe(&self) -> String {
        String::new()
    }
}

/// Bridge settings.
#[derive(Clone, Debug)]
pub struct BridgeConfig {
    /// vpcd's address.
    pub addr: String,
    /// Lift the key off the reader after this many power-offs since it was placed, once per
    /// placement (the automatic return after `replace_after` does not re-arm it).
    pub lift_after_power_offs: Option<u32>,
    /// How long an automatically lifted key stays off the reader before it comes back.
    pub replace_after: Duration,
    /// The NFC card's settings.
    pub card: CardConfig,
}

impl Default for BridgeConfig {
    fn default() -> Self {
        BridgeConfig {
            addr: DEFAULT_ADDR.to_string(),
            lift_after_power_offs: None,
            replace_after: Duration::from_secs(1),
            card: CardConfig::default(),
        }
    }
}

/// Counters, for `status` and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Connections made to vpcd.
    pub connections: u64,
    /// Power-ons (including resets).
    pub power_ons: u64,
    /// Power-offs (including resets).
    pub power_offs: u64,
    /// Command APDUs answered.
    pub apdus: u64,
}

struct State<K> {
    card: NfcCard<K>,
    lifted: bool,
    auto_place_at: Option<Instant>,
    stream: Option<TcpStream>,
    connected: bool,
    power_offs_since_placed: u32,
    /// Whether the automatic lift is still to come since the key was last placed.
    auto_lift_armed: bool,
    stop: bool,
    stats: Stats,
}

struct Shared<K> {
    state: Mutex<State<K>>,
    changed: Condvar,
    config: BridgeConfig,
}

/// The key on vpcd's reader. Cloning gives another handle to the same bridge.
pub struct Bridge<K> {
    shared: Arc<Shared<K>>,
}

impl<K> Clone for Bridge<K> {
    fn clone(&self) -> Self {
        Bridge {
            shared: Arc::clone(&self.shared),
        }
    }
}

/// What one frame from vpcd asks of the bridge.
enum Reply {
    Send(Vec<u8>),
    Nothing,
    LiftNow,
}

impl<K: ReaderKey> Bridge<K> {
    /// A bridge for `key`, placed on the reader but not yet connected (see [`Bridge::run`]).
    pub fn new(key: K, config: BridgeConfig) -> Self {
        let card = NfcCard::with_config(key, config.card);
        let state = State {
            card,
            lifted: false,
            auto_place_at: None,
            stream: None,
            connected: false,
            power_offs_since_placed: 0,
            auto_lift_armed: true,
            stop: false,
            stats: Stats::default(),
        };
        Bridge {
            shared: Arc::new(Shared {
                state: Mutex::new(state),
                changed: Condvar::new(),
                config,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<K>> {
        // A panic while holding the lock leaves the card in a consistent state: every field is
        // replaced whole. Keep serving.
        self.shared
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Connects to vpcd and serves it until [`Bridge::stop`], reconnecting with backoff.
    pub fn run(&self) {
        let mut backoff = BACKOFF_MIN;
        let mut failures = 0u32;
        while self.wait_until_placed() {
            match self.connect() {
                Ok(stream) => {
                    if failures > 0 {
                        eprintln!("keyfleet-key: connected to vpcd at {}", self.shared.config.addr);
                    }
                    backoff = BACKOFF_MIN;
                    failures = 0;
                    self.serve(stream);
                }
                Err(e) => {
                    if failures == 0 {
                        eprintln!(
                            "keyfleet-key: cannot reach vpcd at {} ({e}); retrying",
                            self.shared.config.addr
                        );
                    }
                    failures = failures.saturating_add(1);
                    self.sleep(backoff);
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            }
        }
    }

    fn connect(&self) -> io::Result<TcpStream> {
        let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
        for addr in self.shared.config.addr.to_socket_addrs()? {
            match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
                Ok(stream) => return Ok(stream),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Blocks while the key is lifted; returns false once the bridge is stopped.
    fn wait_until_placed(&self) -> bool {
        let mut state = self.lock();
        loop {
            if state.stop {
                return false;
            }
            if !state.lifted {
                return true;
            }
            let now = Instant::now();
            state = match state.auto_place_at {
                Some(at) if at <= now => {
                    // The automatic return: back on the reader, the automatic lift not re-armed.
                    state.lifted = false;
                    state.auto_place_at = None;
                    self.shared.changed.notify_all();
                    return true;
                }
                Some(at) => self.wait_timeout(state, at - now),
                None => self.shared.changed.wait(state).unwrap_or_else(|p| p.into_inner()),
            };
        }
    }

    fn wait_timeout<'a>(&self, state: MutexGuard<'a, State<K>>, timeout: Duration) -> MutexGuard<'a, State<K>> {
        match self.shared.changed.wait_timeout(state, timeout) {
            Ok((state, _)) => state,
            Err(poisoned) => poisoned.into_inner().0,
        }
    }

    /// Sleeps, waking early on stop, lift or place.
    fn sleep(&self, duration: Duration) {
        let state = self.lock();
        drop(self.wait_timeout(state, duration));
    }

    /// Serves one connection until vpcd closes it, the key is lifted or the bridge stops.
    fn serve(&self, mut stream: TcpStream) {
        if let Err(e) = stream.set_nodelay(true) {
            eprintln!("keyfleet-key: TCP_NODELAY: {e}");
        }
        {
            let mut state = self.lock();
            if state.lifted || state.stop {
                return;
            }
            state.stream = stream.try_clone().ok();
            state.connected = true;
            state.stats.connections += 1;
            self.shared.changed.notify_all();
        }
        while let Ok(frame) = read_frame(&mut stream) {
            let reply = self.handle_frame(&frame);
            match reply {
                Reply::Send(payload) => {
                    if write_frame(&mut stream, &payload).is_err() {
                        break;
                    }
                }
                Reply::Nothing => {}
                Reply::LiftNow => break,
            }
        }
        let _ = stream.shutdown(Shutdown::Both);
        let mut state = self.lock();
        state.stream = None;
        state.connected = false;
        // Leaving the reader is a field-off, whatever vpcd said last.
        state.card.power_off();
        self.shared.changed.notify_all();
    }

    fn handle_frame(&self, frame: &[u8]) -> Reply {
        let mut state = self.lock();
        match frame {
            [POWER_OFF] => {
                state.card.power_off();
                state.stats.power_offs += 1;
                state.power_offs_since_placed += 1;
                let limit = self.shared.config.lift_after_power_offs;
                if state.auto_lift_armed && limit.is_some_and(|n| state.power_offs_since_placed >= n) {
                    state.auto_lift_armed = false;
                    state.lifted = true;
                    state.auto_place_at = Some(Instant::now() + self.shared.config.replace_after);
                    self.shared.changed.notify_all();
                    return Reply::LiftNow;
                }
                Reply::Nothing
            }
            [POWER_ON] => {
                state.card.power_on();
                state.stats.power_ons += 1;
                self.shared.changed.notify_all();
                Reply::Nothing
            }
            [RESET] => {
                state.card.power_off();
                state.card.power_on();
                state.stats.power_offs += 1;
                state.stats.power_ons += 1;
                self.shared.changed.notify_all();
                Reply::Nothing
            }
            [GET_ATR] => Reply::Send(ATR.to_vec()),
            [other] => {
                eprintln!("keyfleet-key: ignoring unknown vpcd control byte {other:#04x}");
                Reply::Nothing
            }
            apdu => {
                state.stats.apdus += 1;
                Reply::Send(state.card.process(apdu))
            }
        }
    }

    /// Takes the key off the reader: drops the connection (a card removal for pcscd) and stays
    /// away until [`Bridge::place`]. Returns once the connection is closed.
    pub fn lift(&self) {
        let mut state = self.lock();
        state.lifted = true;
        state.auto_place_at = None;
        if let Some(stream) = state.stream.take() {
            let _ = stream.shutdown(Shutdown::Both);
        }
        self.shared.changed.notify_all();
        let deadline = Instant::now() + Duration::from_secs(2);
        while state.connected && Instant::now() < deadline {
            state = self.wait_timeout(state, deadline - Instant::now());
        }
    }

    /// Puts the key back on the reader. Returns once pcscd has powered it up, or after a few
    /// seconds if it does not (pcscd not running); returns whether it was powered up.
    pub fn place(&self) -> bool {
        let mut state = self.lock();
        let power_ons = state.stats.power_ons;
        place_locked(&mut state);
        self.shared.changed.notify_all();
        let deadline = Instant::now() + PLACE_WAIT;
        while state.stats.power_ons == power_ons && !state.stop && Instant::now() < deadline {
            state = self.wait_timeout(state, deadline - Instant::now());
        }
        state.stats.power_ons != power_ons
    }

    /// Stops [`Bridge::run`].
    pub fn stop(&self) {
        let mut state = self.lock();
        state.stop = true;
        if let Some(stream) = state.stream.take() {
            let _ = stream.shutdown(Shutdown::Both);
        }
        self.shared.changed.notify_all();
    }

    /// Whether the key is off the reader.
    pub fn is_lifted(&self) -> bool {
        self.lock().lifted
    }

    /// Whether a vpcd connection is open.
    pub fn is_connected(&self) -> bool {
        self.lock().connected
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        self.lock().stats
    }

    /// Runs `f` on the key, between two APDUs.
    pub fn with_key<R>(&self, f: impl FnOnce(&mut K) -> R) -> R {
        f(self.lock().card.applet_mut())
    }

    /// Runs one control-socket command line and returns the one-line answer (`ok …` or `err …`).
    pub fn control_line(&self, line: &str) -> String {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["lift"] => {
                self.lift();
                "ok lifted".to_string()
            }
            ["place"] => match self.place() {
                true => "ok placed".to_string(),
                false => "ok placed (not powered up yet)".to_string(),
            },
            ["status"] => self.status_line(),
            [] => "err empty command".to_string(),
            words => match self.with_key(|key| key.control(words)) {
                Some(Ok(answer)) if answer.is_empty() => "ok".to_string(),
                Some(Ok(answer)) => format!("ok {answer}"),
                Some(Err(e)) => format!("err {e}"),
                None => format!("err unknown command {:?}", words[0]),
            },
        }
    }

    fn status_line(&self) -> String {
        let state = self.lock();
        let s = state.stats;
        let key = state.card.applet().describe();
        format!(
            "ok lifted={} connected={} connections={} power_ons={} power_offs={} apdus={}{}{}",
            state.lifted,
            state.connected,
            s.connections,
            s.power_ons,
            s.power_offs,
            s.apdus,
            if key.is_empty() { "" } else { " " },
            key
        )
    }
}

/// Puts the key on the reader as a person does: the power-off count starts afresh and the
/// automatic lift is armed again.
fn place_locked<K>(state: &mut State<K>) {
    state.lifted = false;
    state.auto_place_at = None;
    state.power_offs_since_placed = 0;
    state.auto_lift_armed = true;
}

/// Reads one length-prefixed frame, re-arming `TCP_QUICKACK` before each read.
fn read_frame(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 2];
    stream.set_quickack(true)?;
    stream.read_exact(&mut len)?;
    let mut payload = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.set_quickack(true)?;
    stream.read_exact(&mut payload)?;
    Ok(payload)
}

/// Writes one length-prefixed frame in a single `send`.
fn write_frame(stream: &mut TcpStream, payload: &[u8]) -> io::Result<()> {
    let len =
        u16::try_from(payload.len()).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame too long"))?;
    let mut frame = Vec::with_capacity(payload.len() + 2);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(payload);
    stream.write_all(&frame)
}

/// The control socket: a Unix socket taking one command per line (`lift`, `place`, `status`, and
/// whatever [`ReaderKey::control`] understands) and answering one line each. The socket file is
/// removed when the returned guard is dropped.
pub fn serve_control<K: ReaderKey>(bridge: Bridge<K>, path: &Path) -> io::Result<ControlSocket> {
    if UnixStream::connect(path).is_ok() {
        return Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!("{} is in use", path.display()),
        ));
    }
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path)?;
    std::thread::Builder::new().name("control".into()).spawn(move || {
        for conn in listener.incoming().flatten() {
            let bridge = bridge.clone();
            let _ = std::thread::Builder::new()
                .name("control-conn".into())
                .spawn(move || control_session(&bridge, conn));
        }
    })?;
    Ok(ControlSocket {
        path: path.to_path_buf(),
    })
}

fn control_session<K: ReaderKey>(bridge: &Bridge<K>, conn: UnixStream) {
    let Ok(mut writer) = conn.try_clone() else {
        return;
    };
    for line in BufReader::new(conn).lines() {
        let Ok(line) = line else {
            return;
        };
        let answer = bridge.control_line(&line);
        if writeln!(writer, "{answer}").is_err() {
            return;
        }
    }
}

/// Removes the control socket file on drop.
pub struct ControlSocket {
    path: PathBuf,
}

impl ControlSocket {
    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Sends one command line to a control socket and returns the answer line.
pub fn send_control(path: &Path, line: &str) -> io::Result<String> {
    let mut conn = UnixStream::connect(path)?;
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    writeln!(conn, "{line}")?;
    let mut answer = String::new();
    BufReader::new(conn).read_line(&mut answer)?;
    Ok(answer.trim_end().to_string())
}
