//! A loopback HTTP server that answers from a script: the fuzz input for the
//! SCIM and Graph targets is a list of answers, each a status line of our own
//! (`200 gzip chunked retry=5 location=… ct=…`) and a body, separated by a
//! line `=====`. The server writes them in order, one per connection, always
//! well-framed HTTP/1.1 (the framing is the server's, the content the
//! input's), so what is fuzzed is what the client makes of the answers. A
//! second server, "elsewhere", stands for another origin: scripts may point
//! `Location` or `@odata.nextLink` at it (`{other}`), and the oracle refuses a
//! run in which it ever received a request carrying a token.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The separator between answers in a script.
pub const SEPARATOR: &[u8] = b"\n=====\n";

/// What is served when a script has run out: an error, as a real server might.
const FALLBACK: &[u8] = b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";

/// A listening server and its queue of answers.
pub struct Loopback {
    base: String,
    queue: Arc<Mutex<VecDeque<Vec<u8>>>>,
    served: Arc<AtomicUsize>,
    with_token: Arc<AtomicUsize>,
}

impl Loopback {
    /// Bind 127.0.0.1 on a free port and serve until the process ends.
    pub fn start() -> std::io::Result<Loopback> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let base = format!("http://{}", listener.local_addr()?);
        let queue: Arc<Mutex<VecDeque<Vec<u8>>>> = Arc::default();
        let served = Arc::new(AtomicUsize::new(0));
        let with_token = Arc::new(AtomicUsize::new(0));
        let (q, s, t) = (queue.clone(), served.clone(), with_token.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let answer = q.lock().expect("queue").pop_front();
                serve(stream, answer.as_deref().unwrap_or(FALLBACK), &s, &t);
            }
        });
        Ok(Loopback {
            base,
            queue,
            served,
            with_token,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Replace the queue with these raw answers and reset the counters.
    pub fn load(&self, answers: Vec<Vec<u8>>) {
        *self.queue.lock().expect("queue") = answers.into();
        self.served.store(0, Ordering::SeqCst);
        self.with_token.store(0, Ordering::SeqCst);
    }

    /// Requests served since [`Loopback::load`].
    pub fn served(&self) -> usize {
        self.served.load(Ordering::SeqCst)
    }

    /// Requests since [`Loopback::load`] that carried an `Authorization` header.
    pub fn requests_with_token(&self) -> usize {
        self.with_token.load(Ordering::SeqCst)
    }
}

/// Read one request (headers, then a `Content-Length` body) and write `answer`.
fn serve(mut stream: TcpStream, answer: &[u8], served: &AtomicUsize, with_token: &AtomicUsize) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if buf.len() > 1 << 20 {
            return;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    if head.contains("\r\nauthorization:") {
        with_token.fetch_add(1, Ordering::SeqCst);
    }
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length.min(64 << 20) {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    served.fetch_add(1, Ordering::SeqCst);
    let _ = stream.write_all(answer);
    let _ = stream.flush();
    let _ = stream.shutdown(Shutdown::Both);
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The raw HTTP answers a script describes; `{base}` and `{other}` in bodies
/// and `location=` become the two servers' URLs.
pub fn answers(script: &[u8], base: &str, other: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = script;
    while !rest.is_empty() && out.len() < 64 {
        let (part, next) = match find(rest, SEPARATOR) {
            Some(i) => (&rest[..i], &rest[i + SEPARATOR.len()..]),
            None => (rest, &[][..]),
        };
        out.push(answer(part, base, other));
        rest = next;
    }
    out
}

fn replace_all(body: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut rest = body;
    while let Some(i) = find(rest, from) {
        out.extend_from_slice(&rest[..i]);
        out.extend_from_slice(to);
        rest = &rest[i + from.len()..];
    }
    out.extend_from_slice(rest);
    out
}

/// One answer: its first line says how, the rest is the body.
fn answer(part: &[u8], base: &str, other: &str) -> Vec<u8> {
    let (line, body) = match part.iter().position(|b| *b == b'\n') {
        Some(i) => (&part[..i], &part[i + 1..]),
        None => (part, &[][..]),
    };
    let line = String::from_utf8_lossy(line);
    let mut status = 200u16;
    let mut gzip = false;
    let mut chunked = false;
    let mut close_delimited = false;
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut length_delta: i64 = 0;
    let mut content_type = "application/scim+json".to_string();
    for token in line.split_whitespace() {
        let value = |name: &str| token.strip_prefix(name).map(str::to_string);
        if let Ok(n) = token.parse::<u16>() {
            // 1xx are informational (the client waits for the real answer): use 200.
            status = if (200..=599).contains(&n) { n } else { 200 };
        } else if token == "gzip" {
            gzip = true;
        } else if token == "chunked" {
            chunked = true;
        } else if token == "close" {
            close_delimited = true;
        } else if let Some(v) = value("retry=") {
            headers.push(("Retry-After".into(), v));
        } else if let Some(v) = value("location=") {
            headers.push((
                "Location".into(),
                v.replace("{base}", base).replace("{other}", other),
            ));
        } else if let Some(v) = value("ct=") {
            content_type = v;
        } else if let Some(v) = value("len=") {
            length_delta = v.parse().unwrap_or(0);
        } else if let Some(v) = value("rid=") {
            headers.push(("request-id".into(), v));
        }
    }
    let body = replace_all(
        &replace_all(body, b"{base}", base.as_bytes()),
        b"{other}",
        other.as_bytes(),
    );
    let body = if gzip {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let _ = e.write_all(&body);
        headers.push(("Content-Encoding".into(), "gzip".into()));
        e.finish().unwrap_or_default()
    } else {
        body
    };
    let mut out = format!("HTTP/1.1 {status} Fuzz\r\nConnection: close\r\n").into_bytes();
    // Header values must be visible ASCII for any client to read them at all.
    let printable = |s: &str| {
        s.chars()
            .filter(|c| (' '..='~').contains(c))
            .collect::<String>()
    };
    out.extend_from_slice(format!("Content-Type: {}\r\n", printable(&content_type)).as_bytes());
    for (k, v) in &headers {
        out.extend_from_slice(format!("{k}: {}\r\n", printable(v)).as_bytes());
    }
    if chunked {
        out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
        for piece in body.chunks(4096) {
            out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
            out.extend_from_slice(piece);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0\r\n\r\n");
    } else if close_delimited {
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&body);
    } else {
        let length = (body.len() as i64 + length_delta).max(0);
        out.extend_from_slice(format!("Content-Length: {length}\r\n\r\n").as_bytes());
        out.extend_from_slice(&body);
    }
    out
}

/// A script's mutation: one answer's body changed as JSON (or bytes), its
/// status line changed, or answers repeated, dropped or swapped.
pub fn mutate_script(
    rng: &mut crate::mutate::Rng,
    input: &[u8],
    corpus: &[Vec<u8>],
    max_len: usize,
) -> Vec<u8> {
    use crate::mutate::{mutate_bytes, mutate_json_bytes};
    if rng.one_in(8) {
        return mutate_bytes(rng, input, corpus, max_len);
    }
    let mut parts: Vec<Vec<u8>> = split(input);
    if parts.is_empty() {
        parts.push(b"200\n{}".to_vec());
    }
    let i = rng.below(parts.len());
    match rng.below(10) {
        0 => {
            let copy = parts[i].clone();
            parts.insert(i, copy);
        }
        1 if parts.len() > 1 => {
            parts.remove(i);
        }
        2 if parts.len() > 1 => {
            let j = rng.below(parts.len());
            parts.swap(i, j);
        }
        3 if !corpus.is_empty() => {
            // An answer from another script.
            let other = split(rng.pick::<Vec<u8>>(corpus));
            if !other.is_empty() {
                parts[i] = rng.pick(&other).clone();
            }
        }
        4 => {
            let (line, body) = head_and_body(&parts[i]);
            let line = mutate_status_line(rng, &line);
            parts[i] = [line.as_bytes(), b"\n", &body].concat();
        }
        _ => {
            let (line, body) = head_and_body(&parts[i]);
            let body = mutate_json_bytes(rng, &body, &[], max_len);
            parts[i] = [line.as_bytes(), b"\n", &body].concat();
        }
    }
    let mut out = parts.join(SEPARATOR);
    out.truncate(max_len);
    out
}

fn split(input: &[u8]) -> Vec<Vec<u8>> {
    let mut parts = Vec::new();
    let mut rest = input;
    while !rest.is_empty() {
        match find(rest, SEPARATOR) {
            Some(i) => {
                parts.push(rest[..i].to_vec());
                rest = &rest[i + SEPARATOR.len()..];
            }
            None => {
                parts.push(rest.to_vec());
                break;
            }
        }
    }
    parts
}

fn head_and_body(part: &[u8]) -> (String, Vec<u8>) {
    match part.iter().position(|b| *b == b'\n') {
        Some(i) => (
            String::from_utf8_lossy(&part[..i]).into_owned(),
            part[i + 1..].to_vec(),
        ),
        None => (String::from_utf8_lossy(part).into_owned(), Vec::new()),
    }
}

fn mutate_status_line(rng: &mut crate::mutate::Rng, line: &str) -> String {
    let statuses = [
        "200", "201", "204", "304", "400", "401", "403", "404", "409", "412", "429", "500", "502",
        "503", "302", "307", "308",
    ];
    let flags = [
        "gzip",
        "chunked",
        "close",
        "retry=1",
        "retry=0",
        "retry=-5",
        "retry=100000",
        "retry=Wed, 21 Oct 2015 07:28:00 GMT",
        "location={other}/x",
        "location={base}/Users/abc",
        "location=/relative",
        "location=",
        "ct=text/html",
        "ct=application/json",
        "ct=",
        "len=-3",
        "len=5",
        "rid=abc",
    ];
    let mut tokens: Vec<String> = line.split_whitespace().map(str::to_string).collect();
    match rng.below(3) {
        0 => {
            tokens.retain(|t| t.parse::<u16>().is_err());
            tokens.insert(0, rng.pick(&statuses).to_string());
        }
        1 => tokens.push(rng.pick(&flags).to_string()),
        _ if !tokens.is_empty() => {
            let i = rng.below(tokens.len());
            tokens.remove(i);
        }
        _ => {}
    }
    tokens.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_script_becomes_framed_answers_with_the_urls_filled_in() {
        let a = answers(
            b"201 location={other}/Users/9\n{\"next\":\"{base}/p2\"}\n=====\n404 chunked\n{}",
            "http://127.0.0.1:1",
            "http://127.0.0.1:2",
        );
        assert_eq!(a.len(), 2);
        let first = String::from_utf8(a[0].clone()).unwrap();
        assert!(first.starts_with("HTTP/1.1 201 "), "{first}");
        assert!(
            first.contains("Location: http://127.0.0.1:2/Users/9\r\n"),
            "{first}"
        );
        assert!(
            first.ends_with("{\"next\":\"http://127.0.0.1:1/p2\"}"),
            "{first}"
        );
        let second = String::from_utf8(a[1].clone()).unwrap();
        assert!(second.contains("Transfer-Encoding: chunked"), "{second}");
        assert!(second.ends_with("2\r\n{}\r\n0\r\n\r\n"), "{second}");
    }
}
