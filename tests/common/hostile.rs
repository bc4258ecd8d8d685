//! Hostile servers for the transport and paging tests: a loopback HTTP server
//! whose every answer comes from a closure the test writes (redirects, endless
//! or gzip-bomb bodies, pagers that never stop), and a capturing listener that
//! only counts who connects to it (the "other origin" a redirect points at, or
//! a proxy from an environment variable). Add new hostile cases as closures
//! beside the ones here.

use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// What the hostile server is asked: the request line's path and query, and
/// how many requests came before this one.
pub struct Asked {
    pub path_and_query: String,
    pub nth: usize,
    /// Its own base URL (`http://127.0.0.1:PORT`), for self-referencing links.
    pub base: String,
}

pub type Answer = Arc<dyn Fn(&Asked) -> Response<Body> + Send + Sync>;

/// A running hostile server: its base URL and the requests it saw.
pub struct Hostile {
    pub base: String,
    pub seen: Arc<Mutex<Vec<String>>>,
}

impl Hostile {
    pub fn requests(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

/// Serve `answer` on 127.0.0.1 on its own thread and runtime (so a test's
/// blocking CLI run cannot starve it).
pub fn serve(answer: Answer) -> Hostile {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            tx.send(base.clone()).unwrap();
            let app = axum::Router::new().fallback(move |req: Request<Body>| {
                let answer = answer.clone();
                let log = log.clone();
                let base = base.clone();
                async move {
                    let pq = req
                        .uri()
                        .path_and_query()
                        .map(|p| p.to_string())
                        .unwrap_or_default();
                    let nth = {
                        let mut l = log.lock().unwrap();
                        l.push(format!("{} {pq}", req.method()));
                        l.len() - 1
                    };
                    answer(&Asked {
                        path_and_query: pq,
                        nth,
                        base,
                    })
                }
            });
            axum::serve(listener, app).await.unwrap();
        });
    });
    Hostile {
        base: rx.recv().unwrap(),
        seen,
    }
}

/// A listener that accepts connections on 127.0.0.1 and only counts them
/// (closing each at once): nothing must ever reach it.
pub struct Capture {
    pub addr: SocketAddr,
    pub connections: Arc<AtomicUsize>,
}

impl Capture {
    pub fn start() -> Capture {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let n = connections.clone();
        std::thread::spawn(move || {
            for s in listener.incoming() {
                n.fetch_add(1, Ordering::SeqCst);
                drop(s);
            }
        });
        Capture { addr, connections }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn count(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// A JSON answer.
pub fn json(status: u16, v: serde_json::Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(serde_json::to_vec(&v).unwrap()))
        .unwrap()
}

/// A redirect to `location`.
pub fn redirect(status: u16, location: &str) -> Response<Body> {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .header(header::LOCATION, HeaderValue::from_str(location).unwrap())
        .body(Body::empty())
        .unwrap()
}

/// A 200 whose chunked JSON-looking body never ends.
pub fn endless_body() -> Response<Body> {
    let head = futures::stream::once(async { Ok::<_, std::io::Error>(b"{\"x\":\"".to_vec()) });
    let tail = futures::stream::repeat_with(|| Ok(vec![b'a'; 64 * 1024]));
    Response::builder()
        .status(200)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(futures::StreamExt::chain(head, tail)))
        .unwrap()
}

/// `mb` MiB of spaces gzip-compressed (a few kB on the wire).
pub fn gzip_bomb_bytes(mb: usize) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let block = vec![b' '; 1024 * 1024];
    for _ in 0..mb {
        enc.write_all(&block).unwrap();
    }
    enc.finish().unwrap()
}

/// A 200 with `Content-Encoding: gzip` and `compressed` as its body.
pub fn gzip_body(compressed: Vec<u8>) -> Response<Body> {
    Response::builder()
        .status(200)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_ENCODING, "gzip")
        .body(Body::from(compressed))
        .unwrap()
}

/// `users export --format scim --out OUT` against `scim_url`, with a dummy token.
pub fn export(scim_url: &str, out: &std::path::Path) -> assert_cmd::Command {
    let mut c = super::cli::bin();
    c.env("SCIM_TOKEN", "hostile-test-token")
        .args([
            "users",
            "export",
            "--scim-url",
            scim_url,
            "--format",
            "scim",
            "--out",
        ])
        .arg(out);
    c
}
