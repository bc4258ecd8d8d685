//! The independent SCIM server `scim2-server` (installed by
//! scripts/install-scim2-server.sh) on a loopback port, ready when an
//! authenticated `GET /ServiceProviderConfig` answers 200 with our token, so a
//! test never talks to another test's server that took the same port.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running scim2-server; killed on drop.
pub struct Scim2Server {
    pub base_url: String,
    pub token: String,
    child: Child,
}

impl Drop for Scim2Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Path to the scim2-server executable: `SCIM2_SERVER_BIN`, else the project venv.
pub fn scim2_server_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("SCIM2_SERVER_BIN") {
        return PathBuf::from(p);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/scim2-server/bin/scim2-server")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Start scim2-server on a free loopback port and wait until it answers.
/// Panics with a pointed message when it is not installed: the test command
/// (scripts/test.sh) installs it.
pub fn start_scim2_server() -> Scim2Server {
    let bin = scim2_server_bin();
    assert!(
        bin.exists(),
        "scim2-server is not installed at {}: run scripts/install-scim2-server.sh (scripts/test.sh does)",
        bin.display()
    );
    // Unique per server, so a server another test started on the same port
    // answers 401 to our readiness check instead of passing it.
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let token = format!(
        "tok-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    );
    for _ in 0..3 {
        let port = free_port();
        let child = Command::new(&bin)
            .args([
                "--hostname",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--bearer-token",
                &token,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start scim2-server");
        let mut server = Scim2Server {
            base_url: format!("http://127.0.0.1:{port}/v2"),
            token: token.clone(),
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if answers_with_our_token(port, &token) {
                return server;
            }
            if let Ok(Some(_)) = server.child.try_wait() {
                break; // port taken or crashed: try another port
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = server.child.kill();
        let _ = server.child.wait();
    }
    panic!("scim2-server did not start on loopback");
}

/// One blocking `GET /v2/ServiceProviderConfig` with our bearer token (std only,
/// HTTP/1.0, 2 s timeouts): true only for a 200 from a server that knows it.
fn answers_with_our_token(port: u16, token: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = s.set_write_timeout(Some(Duration::from_secs(2)));
    let req = format!(
        "GET /v2/ServiceProviderConfig HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n\r\n"
    );
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    let mut got = 0;
    while got < head.len() {
        match s.read(&mut head[got..]) {
            Ok(0) | Err(_) => return false,
            Ok(n) => got += n,
        }
    }
    head.starts_with(b"HTTP/1.") && &head[9..12] == b"200"
}
