//! A fault-injecting Workload API peer on raw Unix sockets and plain threads: it speaks just
//! enough HTTP/2 (its own SETTINGS, SETTINGS ACKs, a frame reader) to answer each request
//! with one chosen fault that tonic cannot be made to produce. It shares no code with the
//! helper's client; HPACK output uses only the indexed `:status 200` and literals without
//! indexing (RFC 7541 §6.1, §6.2.2), so no table state is needed.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// What the peer does on each connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Accepts and reads, never writes a byte.
    Silent,
    /// Answers the client preface as an HTTP/1.1 server would (400, then close).
    Http1,
    /// Sends its SETTINGS, then bytes that are not HTTP/2 frames, then closes.
    Garbage,
    /// Answers the first request with GOAWAY(last stream 0, NO_ERROR) and closes.
    GoAway,
    /// Answers each request with RST_STREAM(INTERNAL_ERROR); the connection stays open.
    RstStream,
    /// Answers each request with a trailers-only response: this `grpc-status` and message.
    Status(u32, &'static str),
    /// Answers each request with response headers and OK trailers, no message: the stream
    /// ends cleanly.
    EndStream,
}

/// A running fault peer; it stops accepting and removes its socket on drop.
pub struct FaultPeer {
    socket: PathBuf,
    connections: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl FaultPeer {
    /// Listens on `socket` (removing a socket file left there) and serves `fault`.
    pub fn start(socket: &Path, fault: Fault) -> FaultPeer {
        let _ = std::fs::remove_file(socket);
        let listener = UnixListener::bind(socket).expect("binding the fault peer's socket");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let connections = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, halt) = (Arc::clone(&connections), Arc::clone(&stop));
        std::thread::spawn(move || {
            while !halt.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        count.fetch_add(1, Ordering::SeqCst);
                        let (fault, halt) = (fault.clone(), Arc::clone(&halt));
                        std::thread::spawn(move || serve(stream, &fault, &halt));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        FaultPeer {
            socket: socket.to_owned(),
            connections,
            stop,
        }
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for FaultPeer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = std::fs::remove_file(&self.socket);
    }
}

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const DATA: u8 = 0;
const HEADERS: u8 = 1;
const RST_STREAM: u8 = 3;
const SETTINGS: u8 = 4;
const GOAWAY: u8 = 7;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const ACK: u8 = 0x1;

/// One HTTP/2 frame (RFC 9113 §4.1).
fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).expect("a small frame");
    let mut out = len.to_be_bytes()[1..].to_vec();
    out.extend([kind, flags]);
    out.extend(stream.to_be_bytes());
    out.extend(payload);
    out
}

/// A header block: `:status 200` (static index 8), then each field as a literal without
/// indexing with a literal name; names and values must be shorter than 127 bytes.
fn header_block(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut block = vec![0x88];
    for (name, value) in fields {
        block.push(0x00);
        for s in [name, value] {
            block.push(u8::try_from(s.len()).expect("a short literal"));
            block.extend(s.as_bytes());
        }
    }
    block
}

fn serve(mut stream: UnixStream, fault: &Fault, stop: &AtomicBool) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
    let mut input = Vec::new();
    let mut preface_seen = false;
    if !matches!(fault, Fault::Silent | Fault::Http1) {
        let _ = stream.write_all(&frame(SETTINGS, 0, 0, &[]));
    }
    if *fault == Fault::Garbage {
        let _ = stream.write_all(&[0xff; 64]);
        return;
    }
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::SeqCst) {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => input.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(_) => return,
        }
        match fault {
            Fault::Silent => input.clear(),
            Fault::Http1 => {
                let _ = stream.write_all(
                    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
                return;
            }
            _ => {}
        }
        if !preface_seen {
            if input.len() < PREFACE.len() {
                continue;
            }
            if &input[..PREFACE.len()] != PREFACE {
                return;
            }
            input.drain(..PREFACE.len());
            preface_seen = true;
        }
        while input.len() >= 9 {
            let len = u32::from_be_bytes([0, input[0], input[1], input[2]]) as usize;
            if input.len() < 9 + len {
                break;
            }
            let (kind, flags) = (input[3], input[4]);
            let id = u32::from_be_bytes([input[5], input[6], input[7], input[8]]) & 0x7fff_ffff;
            input.drain(..9 + len);
            let reply = match (kind, fault) {
                (SETTINGS, _) if flags & ACK == 0 => frame(SETTINGS, ACK, 0, &[]),
                (HEADERS, Fault::GoAway) => {
                    let mut payload = vec![0; 8];
                    payload.extend(b"fault peer: going away");
                    let _ = stream.write_all(&frame(GOAWAY, 0, 0, &payload));
                    return;
                }
                (HEADERS, Fault::RstStream) => frame(RST_STREAM, 0, id, &2u32.to_be_bytes()),
                (HEADERS, Fault::Status(code, message)) => {
                    let code = code.to_string();
                    let block = header_block(&[
                        ("content-type", "application/grpc"),
                        ("grpc-status", &code),
                        ("grpc-message", message),
                    ]);
                    frame(HEADERS, END_HEADERS | END_STREAM, id, &block)
                }
                (HEADERS, Fault::EndStream) => {
                    let mut out = frame(
                        HEADERS,
                        END_HEADERS,
                        id,
                        &header_block(&[("content-type", "application/grpc")]),
                    );
                    // An empty DATA frame and then the OK trailers (no 0x88 in trailers).
                    out.extend(frame(DATA, 0, id, &[]));
                    let mut trailers = header_block(&[("grpc-status", "0")]);
                    trailers.remove(0);
                    out.extend(frame(HEADERS, END_HEADERS | END_STREAM, id, &trailers));
                    out
                }
                _ => continue,
            };
            if stream.write_all(&reply).is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_and_header_blocks_have_the_wire_layout() {
        assert_eq!(
            frame(RST_STREAM, 0, 1, &2u32.to_be_bytes()),
            [0, 0, 4, 3, 0, 0, 0, 0, 1, 0, 0, 0, 2]
        );
        assert_eq!(
            header_block(&[("a", "bc")]),
            [0x88, 0x00, 1, b'a', 2, b'b', b'c']
        );
    }
}
