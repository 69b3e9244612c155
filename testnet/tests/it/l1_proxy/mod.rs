//! A JSON-RPC-over-HTTP proxy in front of the testnet's Ethereum, for one node: the test can
//! make Ethereum unreachable for that node (every connection refused and dropped), and can
//! trap the node's first transaction that calls a given function (forwarded to Ethereum, its
//! answer withheld), so the test kills the node in the instant between two Ethereum calls.
//!
//! HTTP/1.1 with `Content-Length` bodies on both sides (what the node's client and anvil
//! speak), keep-alive towards the node, one upstream connection per request.

#![allow(dead_code)]

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{Shutdown, TcpListener, TcpStream},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::Duration,
};

#[derive(Default)]
struct State {
    down: AtomicBool,
    stop: AtomicBool,
    /// The selector (hex, no 0x) whose first raw transaction is trapped.
    trap: Mutex<Option<String>>,
    tripped: AtomicBool,
}

/// The running proxy; stopped when dropped.
pub(crate) struct L1Proxy {
    /// Its port on 127.0.0.1.
    pub(crate) port: u16,
    state: Arc<State>,
    thread: Option<JoinHandle<()>>,
}

impl L1Proxy {
    /// Listens on a free 127.0.0.1 port and forwards to `upstream` (`host:port`).
    pub(crate) fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(State::default());
        let upstream = upstream.to_owned();
        let s = state.clone();
        let thread = std::thread::spawn(move || {
            while !s.stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        if s.down.load(Ordering::Relaxed) {
                            let _ = client.shutdown(Shutdown::Both);
                            continue;
                        }
                        let (s, upstream) = (s.clone(), upstream.clone());
                        std::thread::spawn(move || serve(client, &upstream, &s));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Self {
            port,
            state,
            thread: Some(thread),
        }
    }

    /// The URL a node's config points at.
    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Makes Ethereum unreachable through the proxy (or reachable again).
    pub(crate) fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::Relaxed);
    }

    /// Traps the first `eth_sendRawTransaction` whose transaction carries `selector` (the
    /// function's 4-byte selector): it reaches Ethereum, its answer never reaches the node.
    pub(crate) fn trap(&self, selector: [u8; 4]) {
        self.state.tripped.store(false, Ordering::Relaxed);
        *self.state.trap.lock().unwrap() = Some(alloy_primitives::hex::encode(selector));
    }

    /// Whether the trap caught a transaction.
    pub(crate) fn tripped(&self) -> bool {
        self.state.tripped.load(Ordering::Relaxed)
    }
}

impl Drop for L1Proxy {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::Relaxed);
        self.state.down.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One HTTP message: its head (up to the blank line) and its body.
fn read_message(reader: &mut BufReader<TcpStream>) -> Option<(String, Vec<u8>)> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let end = line == "\r\n";
        head.push_str(&line);
        if end {
            break;
        }
    }
    let length = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).ok()?;
    Some((head, body))
}

fn serve(client: TcpStream, upstream: &str, state: &State) {
    let _ = client.set_read_timeout(Some(Duration::from_secs(120)));
    let mut writer = match client.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut reader = BufReader::new(client);
    while let Some((head, body)) = read_message(&mut reader) {
        if state.down.load(Ordering::Relaxed) || state.stop.load(Ordering::Relaxed) {
            return;
        }
        let trapped = {
            let trap = state.trap.lock().unwrap();
            trap.as_ref().is_some_and(|selector| {
                let text = String::from_utf8_lossy(&body);
                text.contains("eth_sendRawTransaction") && text.contains(selector.as_str())
            })
        };
        let Ok(mut up) = TcpStream::connect(upstream) else {
            return;
        };
        let _ = up.set_read_timeout(Some(Duration::from_secs(60)));
        if up.write_all(head.as_bytes()).is_err() || up.write_all(&body).is_err() {
            return;
        }
        let mut up_reader = BufReader::new(up);
        let Some((rhead, rbody)) = read_message(&mut up_reader) else {
            return;
        };
        if trapped {
            // Ethereum has the transaction; the node never hears back.
            *state.trap.lock().unwrap() = None;
            state.tripped.store(true, Ordering::Relaxed);
            std::thread::sleep(Duration::from_secs(60));
            return;
        }
        if writer.write_all(rhead.as_bytes()).is_err() || writer.write_all(&rbody).is_err() {
            return;
        }
    }
}
