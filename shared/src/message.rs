//! Messages that cross a process boundary (worker processes, MPI ranks): serde values as
//! postcard bytes.
//!
//! Python pickles whatever object it is handed, functions included, and finds out on the
//! other side whether it can be rebuilt. Here only types that implement `Serialize` can be
//! encoded, so a closure is refused by the compiler, and decoding checks that the bytes are
//! exactly one message of the expected type.

use anyhow::Context;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Encodes a value as postcard bytes.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<Vec<u8>> {
    postcard::to_stdvec(value).context("cannot encode a message")
}

/// Decodes postcard bytes; trailing bytes are an error (a torn or mixed-up message).
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> anyhow::Result<T> {
    let (value, rest) = postcard::take_from_bytes::<T>(bytes)
        .with_context(|| format!("malformed message ({} bytes)", bytes.len()))?;
    anyhow::ensure!(
        rest.is_empty(),
        "malformed message: {} bytes left over after the message",
        rest.len()
    );
    Ok(value)
}
