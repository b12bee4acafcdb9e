use std::net::TcpListener;
use std::sync::atomic::{AtomicU32, Ordering};

use super::*;
use crate::testutil::TempDir;

/// Counts field changes and answers getInfo with a fixed byte string.
#[derive(Default)]
struct TestKey {
    power_ons: Arc<AtomicU32>,
    power_offs: Arc<AtomicU32>,
    worn: bool,
}

impl Applet for TestKey {
    fn ctap2(&mut self, request: &[u8]) -> Vec<u8> {
        match request {
            [0x04] => vec![0x00, 0xA0],
            _ => vec![0x01],
        }
    }

    fn u2f(&mut self, _: u8, _: u8, _: u8, _: &[u8]) -> Result<Vec<u8>, u16> {
        Err(0x6D00)
    }

    fn u2f_enabled(&self) -> bool {
        false
    }

    fn power_on(&mut self) {
        self.power_ons.fetch_add(1, Ordering::SeqCst);
    }

    fn power_off(&mut self) {
        self.power_offs.fetch_add(1, Ordering::SeqCst);
    }
}

impl ReaderKey for TestKey {
    fn control(&mut self, words: &[&str]) -> Option<Result<String, String>> {
        match words {
            ["wear"] => {
                self.worn = true;
                Some(Ok(String::new()))
            }
            ["take-off"] if !self.worn => Some(Err("not worn".into())),
            _ => None,
        }
    }

    fn describe(&self) -> String {
        format!("worn={}", self.worn)
    }
}

/// The reader side of the vpcd protocol, as pcscd's driver speaks it.
struct FakeVpcd {
    listener: TcpListener,
}

struct Conn(TcpStream);

impl FakeVpcd {
    fn new() -> Self {
        FakeVpcd {
            listener: TcpListener::bind("127.0.0.1:0").unwrap(),
        }
    }

    fn addr(&self) -> String {
        self.listener.local_addr().unwrap().to_string()
    }

    fn accept(&self) -> Conn {
        let (stream, _) = self.listener.accept().unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        Conn(stream)
    }
}

impl Conn {
    /// Sends length and payload in separate segments, as Debian's vpcd does.
    fn send(&mut self, payload: &[u8]) {
        let len = u16::try_from(payload.len()).unwrap().to_be_bytes();
        self.0.write_all(&len).unwrap();
        self.0.flush().unwrap();
        self.0.write_all(payload).unwrap();
    }

    fn recv(&mut self) -> Vec<u8> {
        let mut len = [0u8; 2];
        self.0.read_exact(&mut len).unwrap();
        let mut payload = vec![0; usize::from(u16::from_be_bytes(len))];
        self.0.read_exact(&mut payload).unwrap();
        payload
    }

    fn transmit(&mut self, apdu: &[u8]) -> Vec<u8> {
        self.send(apdu);
        self.recv()
    }

    /// Whether the card closed the connection.
    fn closed(&mut self) -> bool {
        let mut byte = [0u8; 1];
        matches!(self.0.read(&mut byte), Ok(0) | Err(_))
    }

    /// What pcscd does when a card appears: ATR, power on, then SELECT.
    fn power_up_and_select(&mut self) {
        self.send(&[GET_ATR]);
        assert_eq!(self.recv(), ATR);
        self.send(&[POWER_ON]);
        assert_eq!(self.transmit(&SELECT), b"FIDO_2_0\x90\x00");
    }
}

const SELECT: [u8; 14] = [
    0x00, 0xA4, 0x04, 0x00, 0x08, 0xA0, 0x00, 0x00, 0x06, 0x47, 0x2F, 0x00, 0x01, 0x00,
];
const GET_INFO: [u8; 7] = [0x80, 0x10, 0x80, 0x00, 0x01, 0x04, 0x00];

fn start(
    config: BridgeConfig,
) -> (
    Bridge<TestKey>,
    Arc<AtomicU32>,
    Arc<AtomicU32>,
    std::thread::JoinHandle<()>,
) {
    let key = TestKey::default();
    let (ons, offs) = (Arc::clone(&key.power_ons), Arc::clone(&key.power_offs));
    let bridge = Bridge::new(key, config);
    let runner = bridge.clone();
    let thread = std::thread::spawn(move || runner.run());
    (bridge, ons, offs, thread)
}

fn config(addr: String) -> BridgeConfig {
    BridgeConfig {
        addr,
        replace_after: Duration::from_millis(50),
        ..BridgeConfig::default()
    }
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn answers_atr_power_and_apdus() {
    let vpcd = FakeVpcd::new();
    let (bridge, ons, offs, thread) = start(config(vpcd.addr()));
    let mut conn = vpcd.accept();
    conn.power_up_and_select();
    assert_eq!(conn.transmit(&GET_INFO), [0x00, 0xA0, 0x90, 0x00]);
    // A power cycle drops the selection.
    conn.send(&[POWER_OFF]);
    conn.send(&[POWER_ON]);
    assert_eq!(conn.transmit(&GET_INFO), [0x69, 0x85]);
    conn.send(&[RESET]);
    assert_eq!(conn.transmit(&SELECT), b"FIDO_2_0\x90\x00");
    // Unknown control bytes are ignored; the connection stays usable.
    conn.send(&[0x03]);
    assert_eq!(conn.transmit(&GET_INFO), [0x00, 0xA0, 0x90, 0x00]);
    let stats = bridge.stats();
    assert_eq!(
        (stats.connections, stats.power_ons, stats.power_offs, stats.apdus),
        (1, 3, 2, 5)
    );
    assert_eq!((ons.load(Ordering::SeqCst), offs.load(Ordering::SeqCst)), (3, 2));
    bridge.stop();
    thread.join().unwrap();
    // Leaving the reader was a field-off too.
    assert_eq!(offs.load(Ordering::SeqCst), 3);
}

#[test]
fn reconnects_when_vpcd_goes_away() {
    let vpcd = FakeVpcd::new();
    let (bridge, _, _, thread) = start(config(vpcd.addr()));
    let conn = vpcd.accept();
    drop(conn);
    let mut conn = vpcd.accept();
    conn.power_up_and_select();
    assert_eq!(bridge.stats().connections, 2);
    bridge.stop();
    thread.join().unwrap();
}

#[test]
fn retries_until_vpcd_appears() {
    // Find a free port, then start listening on it only after the bridge has failed a few times.
    let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let (bridge, _, _, thread) = start(config(addr.to_string()));
    std::thread::sleep(Duration::from_millis(200));
    let vpcd = FakeVpcd {
        listener: TcpListener::bind(addr).unwrap(),
    };
    let mut conn = vpcd.accept();
    conn.power_up_and_select();
    bridge.stop();
    thread.join().unwrap();
}

#[test]
fn lift_and_place() {
    let vpcd = FakeVpcd::new();
    let (bridge, _, offs, thread) = start(config(vpcd.addr()));
    let mut conn = vpcd.accept();
    conn.power_up_and_select();
    assert_eq!(bridge.control_line("lift"), "ok lifted");
    assert!(conn.closed());
    assert!(bridge.is_lifted() && !bridge.is_connected());
    assert_eq!(offs.load(Ordering::SeqCst), 1);
    assert!(
        bridge
            .control_line("status")
            .starts_with("ok lifted=true connected=false connections=1")
    );
    // Nothing reconnects while lifted.
    vpcd.listener.set_nonblocking(true).unwrap();
    std::thread::sleep(Duration::from_millis(150));
    assert!(vpcd.listener.accept().is_err());
    vpcd.listener.set_nonblocking(false).unwrap();
    let placer = {
        let bridge = bridge.clone();
        std::thread::spawn(move || bridge.control_line("place"))
    };
    let mut conn = vpcd.accept();
    conn.power_up_and_select();
    assert_eq!(placer.join().unwrap(), "ok placed");
    bridge.stop();
    thread.join().unwrap();
}

#[test]
fn lifts_itself_once_after_n_power_offs_and_comes_back() {
    let vpcd = FakeVpcd::new();
    let (bridge, _, _, thread) = start(BridgeConfig {
        lift_after_power_offs: Some(2),
        ..config(vpcd.addr())
    });
    let mut conn = vpcd.accept();
    conn.power_up_and_select();
    conn.send(&[POWER_OFF]);
    conn.send(&[POWER_ON]);
    assert_eq!(conn.transmit(&SELECT), b"FIDO_2_0\x90\x00");
    conn.send(&[POWER_OFF]);
    assert!(conn.closed(), "lifted at the second power-off");
    // It comes back on its own after `replace_after`, and does not lift again: once per placement.
    let mut conn = vpcd.accept();
    conn.power_up_and_select();
    for _ in 0..4 {
        conn.send(&[POWER_OFF]);
        conn.send(&[POWER_ON]);
        assert_eq!(conn.transmit(&SELECT), b"FIDO_2_0\x90\x00", "still on the reader");
    }
    assert_eq!(bridge.stats().connections, 2);
    // Lifted and placed by hand: armed again, lifts at the second power-off since the placing.
    assert_eq!(bridge.control_line("lift"), "ok lifted");
    assert!(conn.closed());
    let placer = {
        let bridge = bridge.clone();
        std::thread::spawn(move || bridge.control_line("place"))
    };
    let mut conn = vpcd.accept();
    conn.power_up_and_select();
    assert_eq!(placer.join().unwrap(), "ok placed");
    conn.send(&[POWER_OFF]);
    conn.send(&[POWER_ON]);
    assert_eq!(conn.transmit(&SELECT), b"FIDO_2_0\x90\x00");
    conn.send(&[POWER_OFF]);
    assert!(
        conn.closed(),
        "lifted again after the second power-off since the placing"
    );
    let mut conn = vpcd.accept();
    conn.power_up_and_select();
    assert_eq!(bridge.stats().connections, 4);
    bridge.stop();
    thread.join().unwrap();
}

#[test]
fn key_commands_and_errors() {
    let vpcd = FakeVpcd::new();
    let (bridge, _, _, thread) = start(config(vpcd.addr()));
    assert_eq!(bridge.control_line("take-off"), "err not worn");
    assert_eq!(bridge.control_line("wear"), "ok");
    assert!(bridge.control_line("status").ends_with("worn=true"));
    assert_eq!(bridge.control_line("fly away"), "err unknown command \"fly\"");
    assert_eq!(bridge.control_line("  "), "err empty command");
    bridge.stop();
    thread.join().unwrap();
}

#[test]
fn control_socket_round_trip() {
    let dir = TempDir::new("ctl");
    let path = dir.path().join("k.kfk.ctl");
    let vpcd = FakeVpcd::new();
    let (bridge, _, _, thread) = start(config(vpcd.addr()));
    let socket = serve_control(bridge.clone(), &path).unwrap();
    assert!(
        serve_control(bridge.clone(), &path).is_err(),
        "a live socket is not taken over"
    );
    let mut conn = vpcd.accept();
    conn.power_up_and_select();
    assert!(
        send_control(&path, "status")
            .unwrap()
            .starts_with("ok lifted=false connected=true")
    );
    assert_eq!(send_control(&path, "wear").unwrap(), "ok");
    assert_eq!(send_control(&path, "lift").unwrap(), "ok lifted");
    assert!(conn.closed());
    drop(socket);
    assert!(!path.exists());
    bridge.stop();
    thread.join().unwrap();
}

#[test]
fn stop_while_waiting_to_be_placed() {
    let vpcd = FakeVpcd::new();
    let (bridge, _, _, thread) = start(config(vpcd.addr()));
    drop(vpcd.accept());
    bridge.lift();
    wait_for("lifted", || bridge.is_lifted());
    bridge.stop();
    thread.join().unwrap();
}

#[test]
fn frames_too_long_are_refused() {
    let vpcd = FakeVpcd::new();
    let (bridge, _, _, thread) = start(config(vpcd.addr()));
    let mut conn = vpcd.accept();
    conn.power_up_and_select();
    // A maximal frame still gets an answer (the card refuses it as a malformed APDU).
    let big = vec![0x80; 65535];
    assert_eq!(conn.transmit(&big), [0x67, 0x00]);
    assert!(write_frame(&mut TcpStream::connect(vpcd.addr()).unwrap(), &vec![0; 65536]).is_err());
    bridge.stop();
    thread.join().unwrap();
}
