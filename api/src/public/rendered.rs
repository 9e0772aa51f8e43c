//! A response body compressed once per snapshot, so that serving it is a copy of bytes
//! whatever encoding the client accepts. Compressing is the costliest part of building
//! a snapshot, so it happens after the snapshot is in place (the live pages hear of a
//! change without waiting for it); a request that comes first compresses for itself.

use std::io::Write;
use std::sync::OnceLock;

use axum::body::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

/// A response body ready to send, plain or compressed.
#[derive(Debug)]
pub struct Rendered {
    pub content_type: &'static str,
    pub body: Bytes,
    gzip: OnceLock<Bytes>,
    brotli: OnceLock<Bytes>,
    /// A strong ETag (quoted), from the body's hash.
    pub etag: String,
}

impl Rendered {
    pub(super) fn new(content_type: &'static str, body: Vec<u8>) -> Self {
        let etag = format!("\"{}\"", &hex::encode(Sha256::digest(&body))[..32]);
        Self {
            content_type,
            body: Bytes::from(body),
            gzip: OnceLock::new(),
            brotli: OnceLock::new(),
            etag,
        }
    }

    pub fn gzip(&self) -> &Bytes {
        self.gzip.get_or_init(|| {
            let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
            // Writing into a Vec cannot fail.
            let gzip = encoder
                .write_all(&self.body)
                .and_then(|()| encoder.finish())
                .unwrap_or_default();
            Bytes::from(gzip)
        })
    }

    pub fn brotli(&self) -> &Bytes {
        self.brotli.get_or_init(|| {
            let mut brotli = Vec::new();
            {
                // Quality 9 of 11: nearly the smallest output at a fraction of the time,
                // which matters because every snapshot compresses every body.
                let mut encoder = brotli::CompressorWriter::new(
                    &mut brotli,
                    4096,
                    9,
                    brotli_window(self.body.len()),
                );
                // Writing into a Vec cannot fail.
                let _ = encoder.write_all(&self.body);
            }
            Bytes::from(brotli)
        })
    }

    /// Compresses both ways now, so that no request waits for it.
    pub fn compress(&self) {
        self.gzip();
        self.brotli();
    }
}

/// The smallest brotli window (log2 of its size) that holds the whole body. A larger
/// one compresses no better but its encoder allocates more: at the usual 22, some 30 MB
/// per body on every snapshot rebuild, which the allocator kept as resident memory that
/// crept up for hours under steady traffic.
fn brotli_window(body_len: usize) -> u32 {
    const SMALLEST: u32 = 10;
    const LARGEST: u32 = 24;
    // A window of 2^n bytes holds 2^n - 16 bytes of input.
    (SMALLEST..LARGEST)
        .find(|bits| (1_usize << bits) - 16 >= body_len)
        .unwrap_or(LARGEST)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_brotli_window_is_the_smallest_that_holds_the_body() {
        assert_eq!(brotli_window(0), 10);
        assert_eq!(brotli_window(1008), 10);
        assert_eq!(brotli_window(1009), 11);
        assert_eq!(brotli_window(60_000), 16);
        assert_eq!(brotli_window(usize::MAX), 24);
    }

    #[test]
    fn a_body_compressed_in_its_own_window_is_as_small_and_reads_back_whole() {
        let body: Vec<u8> = (0..2000)
            .flat_map(|i| {
                format!(r#"{{"id":{i},"title":"Incident {i}","status":"resolved"}},"#).into_bytes()
            })
            .collect();
        let rendered = Rendered::new("application/json", body.clone());

        let mut unpacked = Vec::new();
        brotli::BrotliDecompress(&mut &rendered.brotli()[..], &mut unpacked).unwrap();
        assert_eq!(unpacked, body);
        let mut in_a_large_window = Vec::new();
        brotli::CompressorWriter::new(&mut in_a_large_window, 4096, 9, 22)
            .write_all(&body)
            .unwrap();
        assert!(rendered.brotli().len() <= in_a_large_window.len());
    }
}
