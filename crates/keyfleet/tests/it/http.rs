//! A minimal blocking HTTP/1.1 client for talking to a real `keyfleet serve` process: one
//! request per connection (`Connection: close`), which is all these tests need.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The body as JSON, once the status is `status`.
    pub fn expect(&self, status: u16) -> serde_json::Value {
        assert_eq!(self.status, status, "{}", self.body);
        self.json()
    }

    /// `name=value` of the Set-Cookie header.
    pub fn cookie(&self) -> String {
        self.header("set-cookie")
            .expect("Set-Cookie")
            .split(';')
            .next()
            .unwrap()
            .to_owned()
    }
}

pub fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> Response {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost:{}\r\nConnection: close\r\n",
        addr.port()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    let body = body.unwrap_or("");
    if !body.is_empty() || method != "GET" {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    read_response(&mut s)
}

pub fn read_response(s: &mut TcpStream) -> Response {
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read response");
    parse(&raw)
}

fn parse(raw: &[u8]) -> Response {
    let text = String::from_utf8_lossy(raw).to_string();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {text:?}"));
    let mut lines = head.lines();
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked { dechunk(body) } else { body.to_owned() };
    Response { status, headers, body }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}

pub fn json_post(addr: SocketAddr, path: &str, extra: &[(&str, &str)], body: &serde_json::Value) -> Response {
    let mut headers = vec![("Content-Type", "application/json")];
    headers.extend_from_slice(extra);
    request(addr, "POST", path, &headers, Some(&body.to_string()))
}

/// The origin `keyfleet serve` accepts when none is configured.
pub const DEFAULT_ORIGIN: &str = "http://localhost:8080";

/// POSTs `body` as a page of [`DEFAULT_ORIGIN`] does (its `Origin` header), with the session
/// `cookie` if any.
pub fn browser_post(addr: SocketAddr, path: &str, cookie: Option<&str>, body: &serde_json::Value) -> Response {
    let mut headers = vec![("Origin", DEFAULT_ORIGIN)];
    if let Some(c) = cookie {
        headers.push(("Cookie", c));
    }
    json_post(addr, path, &headers, body)
}
