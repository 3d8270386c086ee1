//! A small HTTP client for the self-tests, spoken by hand on blocking
//! sockets (one request per connection, `Connection: close`): what a test
//! sends to a target itself (creating a call to lend, reading one back).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::Value;

use crate::find;

/// How long a request may take.
const PATIENCE: Duration = Duration::from_secs(5);
/// The largest answer read.
const MOST_BYTES: usize = 4 * 1024 * 1024;

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// Sends one request to `base` (`http://127.0.0.1:PORT/v1.0`) + `path`.
pub fn send(base: &str, method: &str, path: &str, body: Option<&Value>) -> io::Result<Answer> {
    let rest = base
        .strip_prefix("http://")
        .ok_or_else(|| io::Error::other(format!("{base} is not an http:// URL")))?;
    let (host, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let addr: SocketAddr = host
        .parse()
        .map_err(|e| io::Error::other(format!("{host}: {e}")))?;
    let mut stream = TcpStream::connect_timeout(&addr, PATIENCE)?;
    stream.set_read_timeout(Some(PATIENCE))?;
    stream.set_write_timeout(Some(PATIENCE))?;
    let payload = body.map(Value::to_string).unwrap_or_default();
    let mut head = format!(
        "{method} /{prefix}{path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer capture\r\nConnection: close\r\nContent-Length: {}\r\n",
        payload.len()
    );
    if body.is_some() {
        head.push_str("Content-Type: application/json\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(payload.as_bytes())?;
    let mut raw = Vec::new();
    stream.take(MOST_BYTES as u64).read_to_end(&mut raw)?;
    parse_answer(&raw)
}

fn parse_answer(raw: &[u8]) -> io::Result<Answer> {
    let end = find(raw, b"\r\n\r\n").ok_or_else(|| io::Error::other("no end of head"))?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| io::Error::other("no status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    if chunked {
        body = unchunk(&body)?;
    }
    Ok(Answer {
        status,
        headers,
        body,
    })
}

fn unchunk(mut rest: &[u8]) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = find(rest, b"\r\n").ok_or_else(|| io::Error::other("bad chunk"))?;
        let size_text = String::from_utf8_lossy(&rest[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|e| io::Error::other(format!("bad chunk size: {e}")))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        let chunk = rest
            .get(..size)
            .ok_or_else(|| io::Error::other("short chunk"))?;
        body.extend_from_slice(chunk);
        rest = rest.get(size + 2..).unwrap_or_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_plain_or_chunked() {
        let plain = parse_answer(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}").expect("plain");
        assert_eq!((plain.status, plain.body.as_slice()), (200, &b"{}"[..]));
        let chunked = parse_answer(
            b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n",
        )
        .expect("chunked");
        assert_eq!(chunked.json(), Some(serde_json::json!({"a": 1})));
        assert!(parse_answer(b"garbage").is_err());
    }
}
