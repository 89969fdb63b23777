//! sha256 of files, streamed: models are verified, and clips bound to attestations, by it.

use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;

/// Lowercase hex sha256 of a file, read in 1 MiB chunks.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    sha256_reader(&mut std::fs::File::open(path)?)
}

/// Lowercase hex sha256 of everything `f` reads, in 1 MiB chunks.
pub fn sha256_reader(f: &mut impl Read) -> std::io::Result<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Writes a stream to a file while hashing and counting it, so an upload is read once.
pub struct HashingWriter<W> {
    out: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: std::io::Write> HashingWriter<W> {
    pub fn new(out: W) -> Self {
        Self {
            out,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    pub fn write(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        self.out.write_all(chunk)?;
        self.hasher.update(chunk);
        self.bytes += chunk.len() as u64;
        Ok(())
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Flushes the file and returns the hex sha256 and byte count.
    pub fn finish(mut self) -> std::io::Result<(String, u64)> {
        self.out.flush()?;
        Ok((hex::encode(self.hasher.finalize()), self.bytes))
    }
}
