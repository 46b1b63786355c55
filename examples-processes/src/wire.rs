//! Messages across the process boundary: serde values encoded with postcard, one frame each.
//!
//! What replaces pickling: a message is a plain serde value (an enum of the registered task
//! kinds, their arguments, their results), never code. The receiver is the same binary, so
//! both ends agree on the types at compile time; a closure cannot be sent because it does not
//! implement `Serialize`:
//!
//! ```compile_fail,E0277
//! let add_one = |x: u64| x + 1;
//! // error[E0277]: the trait bound `{closure}: Serialize` is not satisfied
//! let _ = examples_processes::wire::encode(&add_one);
//! ```
//!
//! Why these choices:
//! - **Pipes over stdin/stdout** rather than `ipc-channel` or sockets: every OS has them, the
//!   worker is started with them already connected, and when either side dies the other one
//!   sees end-of-file at once, which is how a crashed worker is detected without timeouts.
//!   They carry bytes only, which is all a serialised message is.
//! - **postcard** (serde, compact varints, no schema) rather than JSON: a tiny task is 2 to 4
//!   bytes instead of a dozen characters to format and parse, which matters when a million of
//!   them cross per second. JSON would be readable in a debugger, and that is all.
//! - **A 4-byte length before each message** rather than a delimiter: the reader knows how
//!   much to read, binary payloads need no escaping, and a torn or oversized frame is detected
//!   (a malformed message is an error, never a hang or a silent mix-up).
//! - **Batches**: one frame may carry many tasks (`map(chunksize=...)`, the queue's
//!   `Get { max }`), so the fixed cost of a message (a system call and a wake-up on each side,
//!   a few microseconds) is paid once per batch, not once per task.

use std::io::{self, Read, Write};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The largest frame accepted: bigger lengths mean a corrupted stream, not a real message.
pub const MAX_FRAME: usize = 1 << 30;

/// Version of the messages; a worker says it in its handshake, so a stale binary is caught.
pub const PROTOCOL: u32 = 1;

pub use shared::message::{decode, encode};

/// Writes one frame: the payload's length as 4 little-endian bytes, then the payload.
/// Does not flush: call `flush` once a batch of frames is written.
pub fn write_frame(w: &mut impl Write, payload: &[u8]) -> io::Result<()> {
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|&n| n as usize <= MAX_FRAME)
        .ok_or_else(|| io::Error::other(format!("a {} byte message is too big", payload.len())))?;
    w.write_all(&len.to_le_bytes())?;
    w.write_all(payload)
}

/// Reads one frame. `Ok(None)` at a clean end of stream (the other side closed the pipe
/// between messages); an error for a torn frame or an impossible length.
pub fn read_frame(r: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match r.read(&mut len[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the stream ended inside a frame header",
                ));
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("malformed frame: announced length {len} bytes is over the {MAX_FRAME} limit"),
        ));
    }
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("the stream ended inside a {len} byte frame: {e}"),
        )
    })?;
    Ok(Some(payload))
}

/// Encodes and writes one message as a frame, then flushes.
pub fn send<T: Serialize + ?Sized>(w: &mut impl Write, value: &T) -> anyhow::Result<()> {
    let bytes = encode(value)?;
    write_frame(w, &bytes)?;
    w.flush()?;
    Ok(())
}

/// Reads and decodes one message; `Ok(None)` at a clean end of stream.
pub fn recv<T: DeserializeOwned>(r: &mut impl Read) -> anyhow::Result<Option<T>> {
    match read_frame(r)? {
        None => Ok(None),
        Some(bytes) => decode(&bytes).map(Some),
    }
}

/// The first message of every worker: who it is and which protocol it speaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Hello {
    /// The worker's process id.
    pub pid: u32,
    /// [`PROTOCOL`] of the worker's binary.
    pub protocol: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_end_cleanly() {
        let mut buf = Vec::new();
        send(
            &mut buf,
            &Hello {
                pid: 7,
                protocol: PROTOCOL,
            },
        )
        .unwrap();
        send(&mut buf, &vec![1u64, 2, 300]).unwrap();
        let mut r = &buf[..];
        let hello: Hello = recv(&mut r).unwrap().unwrap();
        assert_eq!(hello.pid, 7);
        let v: Vec<u64> = recv(&mut r).unwrap().unwrap();
        assert_eq!(v, [1, 2, 300]);
        assert!(
            recv::<Hello>(&mut r).unwrap().is_none(),
            "clean end of stream"
        );
    }

    #[test]
    fn torn_oversized_and_garbage_frames_are_errors() {
        let mut buf = Vec::new();
        write_frame(&mut buf, b"abcdef").unwrap();
        let torn = &buf[..7];
        assert!(read_frame(&mut &torn[..]).is_err());
        assert!(read_frame(&mut &buf[..2]).is_err(), "torn header");
        let huge = u32::MAX.to_le_bytes();
        let err = read_frame(&mut &huge[..]).unwrap_err();
        assert!(err.to_string().contains("malformed frame"), "{err}");
        // A frame that is not a Hello (a string) is a decoding error, not a panic.
        let mut buf = Vec::new();
        write_frame(&mut buf, &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).unwrap();
        let err = recv::<Hello>(&mut &buf[..]).unwrap_err();
        assert!(err.to_string().contains("malformed message"), "{err}");
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let mut bytes = encode(&5u8).unwrap();
        bytes.push(1);
        assert!(decode::<u8>(&bytes).is_err());
    }
}
