//! Mutations: byte-level ones for any input, plus edits that know the shape of the input (MP4
//! boxes and their 32-bit fields; YAML lines and CEL tokens), which reach far deeper than
//! random flips in a format whose every length is checked.

use fastrand::Rng;

/// Values that make length and count fields misbehave.
const INTERESTING_U32: [u32; 10] = [
    0,
    1,
    2,
    0x7f,
    0xff,
    0xffff,
    0x1_0000,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
];

pub fn media(rng: &mut Rng, base: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = base.to_vec();
    for _ in 0..stack(rng) {
        match rng.u8(..10) {
            0..=3 => mp4_edit(rng, &mut out),
            _ => bytes(rng, &mut out, other),
        }
    }
    out
}

pub fn policy(rng: &mut Rng, base: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = base.to_vec();
    for _ in 0..stack(rng) {
        match rng.u8(..10) {
            0..=3 => token(rng, &mut out),
            4..=5 => lines(rng, &mut out, other),
            _ => bytes(rng, &mut out, other),
        }
    }
    out
}

/// How many mutations to stack: mostly few, sometimes many.
fn stack(rng: &mut Rng) -> usize {
    1 << rng.usize(..4)
}

fn bytes(rng: &mut Rng, out: &mut Vec<u8>, other: &[u8]) {
    if out.is_empty() {
        out.extend_from_slice(other);
        return;
    }
    let at = rng.usize(..out.len());
    match rng.u8(..9) {
        0 => out[at] ^= 1 << rng.u8(..8),
        1 => out[at] = rng.u8(..),
        2 => out[at] = [0, 0xff, 0x7f, 0x80, 1][rng.usize(..5)],
        3 => {
            let end = (at + 1 + rng.usize(..64)).min(out.len());
            out.drain(at..end);
        }
        4 => {
            let end = (at + 1 + rng.usize(..256)).min(out.len());
            let chunk = out[at..end].to_vec();
            let to = rng.usize(..=out.len());
            out.splice(to..to, chunk);
        }
        5 => {
            let n = rng.usize(1..32);
            let to = rng.usize(..=out.len());
            out.splice(to..to, std::iter::repeat_with(|| rng.u8(..)).take(n));
        }
        6 => out.truncate(at.max(1)),
        7 if !other.is_empty() => {
            let from = rng.usize(..other.len());
            let end = (from + 1 + rng.usize(..512)).min(other.len());
            let len = (end - from).min(out.len() - at);
            out[at..at + len].copy_from_slice(&other[from..from + len]);
        }
        _ => {
            if at + 4 <= out.len() {
                let v = INTERESTING_U32[rng.usize(..INTERESTING_U32.len())];
                out[at..at + 4].copy_from_slice(&v.to_be_bytes());
            }
        }
    }
}

/// An ISO BMFF box: where it starts, its header length and its total length.
struct BoxAt {
    start: usize,
    header: usize,
    len: usize,
}

/// Boxes that hold other boxes (and, for `stsd`, sample entries after an 8-byte header).
const CONTAINERS: [&[u8; 4]; 9] = [
    b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf", b"udta", b"mvex",
];

fn boxes(data: &[u8], from: usize, to: usize, depth: usize, out: &mut Vec<BoxAt>) {
    let mut at = from;
    while at + 8 <= to {
        let size = u32::from_be_bytes(data[at..at + 4].try_into().expect("4 bytes")) as usize;
        let (len, header) = match size {
            0 => (to - at, 8),
            1 if at + 16 <= to => {
                let big = u64::from_be_bytes(data[at + 8..at + 16].try_into().expect("8 bytes"));
                (usize::try_from(big).unwrap_or(usize::MAX), 16)
            }
            n => (n, 8),
        };
        if len < header || at + len > to {
            return;
        }
        let kind = &data[at + 4..at + 8];
        out.push(BoxAt {
            start: at,
            header,
            len,
        });
        if depth < 8 && CONTAINERS.iter().any(|c| c.as_slice() == kind) {
            boxes(data, at + header, at + len, depth + 1, out);
        }
        at += len;
    }
}

fn mp4_edit(rng: &mut Rng, out: &mut Vec<u8>) {
    let mut found = Vec::new();
    boxes(out, 0, out.len(), 0, &mut found);
    if found.is_empty() {
        return;
    }
    let b = &found[rng.usize(..found.len())];
    let body = b.start + b.header;
    let end = b.start + b.len;
    match rng.u8(..5) {
        // A field in the body: counts, durations, offsets, sizes, dimensions.
        0..=2 if end >= body + 4 => {
            let at = body + rng.usize(..=(end - body - 4) / 4) * 4;
            let v = if rng.bool() {
                INTERESTING_U32[rng.usize(..INTERESTING_U32.len())]
            } else {
                let old = u32::from_be_bytes(out[at..at + 4].try_into().expect("4 bytes"));
                old.wrapping_add(rng.u32(..16)).wrapping_sub(8)
            };
            out[at..at + 4].copy_from_slice(&v.to_be_bytes());
        }
        // The size field.
        3 if b.header == 8 => {
            let v = (b.len as u32).wrapping_add(rng.u32(..32)).wrapping_sub(16);
            out[b.start..b.start + 4].copy_from_slice(&v.to_be_bytes());
        }
        // The whole box: gone, or twice.
        _ => {
            if rng.bool() {
                out.drain(b.start..end);
            } else {
                let copy = out[b.start..end].to_vec();
                out.splice(end..end, copy);
            }
        }
    }
}

/// Pieces of YAML and CEL that policy files are made of.
const TOKENS: [&str; 40] = [
    "\n",
    "  ",
    "- ",
    ": ",
    "'",
    "\"",
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    ",",
    ".",
    "&&",
    "||",
    "!",
    "==",
    "<",
    "in",
    "exists(p, ",
    "all(x, ",
    "map(x, x)",
    "filter(f, true)",
    "has(",
    "size(",
    "signals.",
    "request.",
    "params.",
    "persons",
    "nudity",
    "frames",
    "{{ ",
    " }}",
    "when: ",
    "action: block",
    "mode: shadow",
    "&a ",
    "*a",
    "!!binary ",
];

fn token(rng: &mut Rng, out: &mut Vec<u8>) {
    let t = TOKENS[rng.usize(..TOKENS.len())].as_bytes();
    let at = rng.usize(..=out.len());
    if rng.bool() || at == out.len() {
        out.splice(at..at, t.iter().copied());
    } else {
        let end = (at + t.len()).min(out.len());
        out.splice(at..end, t.iter().copied());
    }
}

fn lines(rng: &mut Rng, out: &mut Vec<u8>, other: &[u8]) {
    let mut ls: Vec<Vec<u8>> = out.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
    let theirs: Vec<&[u8]> = other.split(|&b| b == b'\n').collect();
    let i = rng.usize(..ls.len());
    match rng.u8(..4) {
        0 => {
            ls.remove(i);
        }
        1 => {
            let l = ls[i].clone();
            ls.insert(i, l);
        }
        2 => {
            let j = rng.usize(..ls.len());
            ls.swap(i, j);
        }
        _ => ls.insert(i, theirs[rng.usize(..theirs.len())].to_vec()),
    }
    *out = ls.join(&b'\n');
}
