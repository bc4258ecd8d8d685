//! A loopback address that refuses connections for as long as the guard
//! lives: the port is bound but never listened on, so no other test can take
//! it (unlike a "free" port released before use) and a connect gets an
//! immediate refusal (unlike a fixed port such as 9, which a machine may serve).

/// Keeps the port bound; drop it when the test is done.
pub struct Refusing {
    _socket: tokio::net::TcpSocket,
    pub port: u16,
}

/// A bound, non-listening loopback port.
pub fn refusing_port() -> Refusing {
    let socket = tokio::net::TcpSocket::new_v4().expect("a TCP socket");
    socket
        .bind("127.0.0.1:0".parse().unwrap())
        .expect("bind a loopback port");
    let port = socket.local_addr().expect("its address").port();
    Refusing {
        _socket: socket,
        port,
    }
}

impl Refusing {
    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}
