//! Inputs that stall or are not files, over HTTP: a stalled upload is answered 408 and leaves no
//! temporary file, and so is a stalled JSON body; `file://` URIs naming a folder, a FIFO or a device are refused without being
//! read; a missing path behind a symlinked folder answers exactly as a forbidden one.

mod common;

use common::start_server;
use serde_json::json;
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

const BOUNDARY: &str = "clipguard-test-boundary";

/// The multipart body of a check upload carrying `clip`, split at the end of the file part's
/// first `head` bytes: (before, rest).
fn multipart(clip: &[u8], head: usize) -> (Vec<u8>, Vec<u8>) {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"clip.mp4\"\r\nContent-Type: video/mp4\r\n\r\n"
    )
    .into_bytes();
    let split = body.len() + head;
    body.extend_from_slice(clip);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    let rest = body.split_off(split);
    (body, rest)
}

fn headers(port: u16, length: usize) -> String {
    format!(
        "POST /v1/clips/check HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
    )
}

/// Reads a response until the server closes the connection (or 60 s pass): status and text.
fn response(s: &mut TcpStream) -> (u16, String) {
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf);
                // The error bodies are small JSON: stop at the end of the first one.
                if text.contains("\r\n\r\n") && text.trim_end().ends_with('}') {
                    break;
                }
            }
            Err(e) => panic!("no answer: {e} (got {:?})", String::from_utf8_lossy(&buf)),
        }
    }
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text)
}

fn uploads_in(tmp: &Path) -> Vec<String> {
    std::fs::read_dir(tmp)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().to_string())
                .filter(|n| n.starts_with("upload-"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_stalled_upload_is_answered_408_and_its_file_removed_while_a_slow_one_completes() {
    let data = common::data_dir();
    let tmp = data.join("tmp");
    let (_server, port) = start_server(&[
        ("CLIPGUARD_DATA_DIR", data.as_os_str()),
        ("CLIPGUARD_SERVER__UPLOAD_TIMEOUT_S", OsStr::new("3")),
    ]);
    let clip = std::fs::read(common::still_clip("chelsea.png", 2, 320, 240, "inputs")).unwrap();
    assert!(clip.len() > 4096, "{} bytes", clip.len());

    // Stalled: the headers and the first 4 KiB of the clip, then nothing.
    let (head, rest) = multipart(&clip, 4096);
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(headers(port, head.len() + rest.len()).as_bytes())
        .unwrap();
    s.write_all(&head).unwrap();
    s.flush().unwrap();
    let started = Instant::now();
    let mut seen = false;
    while !seen && started.elapsed() < Duration::from_secs(2) {
        seen = !uploads_in(&tmp).is_empty();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(seen, "the partial upload was not being written to {tmp:?}");
    let (status, text) = response(&mut s);
    let waited = started.elapsed();
    assert_eq!(status, 408, "{text}");
    assert!(text.contains("\"upload_timeout\""), "{text}");
    assert!(
        waited >= Duration::from_secs(2),
        "answered after {waited:?}"
    );
    assert!(uploads_in(&tmp).is_empty(), "{:?}", uploads_in(&tmp));

    // Slow but never silent for 3 s: five pieces a second apart (4 s in all) are screened.
    let (head, rest) = multipart(&clip, 0);
    let body = [head, rest].concat();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(headers(port, body.len()).as_bytes()).unwrap();
    let piece = body.len().div_ceil(5);
    let started = Instant::now();
    for (i, part) in body.chunks(piece).enumerate() {
        if i > 0 {
            std::thread::sleep(Duration::from_secs(1));
        }
        s.write_all(part).unwrap();
        s.flush().unwrap();
    }
    assert!(started.elapsed() >= Duration::from_secs(4));
    let (status, text) = response(&mut s);
    assert_eq!(status, 200, "{text}");
    assert!(uploads_in(&tmp).is_empty(), "{:?}", uploads_in(&tmp));
}

/// A JSON request to `path` whose body is `body`, the headers declaring all of it.
fn json_request(port: u16, path: &str, body: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
}

#[test]
fn a_stalled_json_body_is_answered_408_while_a_slow_one_completes() {
    let (_server, port) = start_server(&[("CLIPGUARD_SERVER__UPLOAD_TIMEOUT_S", OsStr::new("2"))]);
    let prompt = json!({"prompt": "a red fox running through snow at dawn"}).to_string();
    let verify = json!({"attestation": "x.y", "clip_sha256": "00"}).to_string();
    // Both ways a JSON body is read: the typed extractor (prompts) and by hand (verify, which
    // also takes multipart).
    for (path, body) in [
        ("/v1/prompts/check", &prompt),
        ("/v1/attestations/verify", &verify),
    ] {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(json_request(port, path, body).as_bytes())
            .unwrap();
        s.write_all(&body.as_bytes()[..10]).unwrap();
        s.flush().unwrap();
        let started = Instant::now();
        let (status, text) = response(&mut s);
        let waited = started.elapsed();
        assert_eq!(status, 408, "{path}: {text}");
        assert!(text.contains("\"upload_timeout\""), "{path}: {text}");
        assert!(
            text.contains("nothing was received for 2 s"),
            "{path}: {text}"
        );
        assert!(
            waited >= Duration::from_secs(1),
            "{path}: answered after {waited:?}"
        );
    }
    // Slow but never silent for 2 s: three pieces a second apart.
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(json_request(port, "/v1/prompts/check", &prompt).as_bytes())
        .unwrap();
    for (i, part) in prompt
        .as_bytes()
        .chunks(prompt.len().div_ceil(3))
        .enumerate()
    {
        if i > 0 {
            std::thread::sleep(Duration::from_secs(1));
        }
        s.write_all(part).unwrap();
        s.flush().unwrap();
    }
    let (status, text) = response(&mut s);
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("\"allow\""), "{text}");
}

#[test]
fn file_uris_that_are_not_files_are_refused_and_missing_looks_like_forbidden() {
    let base = common::data_dir();
    let root = base.join("root");
    let outside = base.join("outside");
    std::fs::create_dir_all(root.join("folder.mp4")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    let clip = common::still_clip("chelsea.png", 1, 320, 240, "uris");
    std::fs::copy(&clip, root.join("clip.mp4")).unwrap();
    std::fs::copy(&clip, outside.join("exists.mp4")).unwrap();
    let fifo = root.join("fifo.mp4");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    std::os::unix::fs::symlink(&outside, root.join("linked")).unwrap();
    // /dev is a root too, so its device nodes are inside the roots: /dev/zero never ends.
    let roots = std::env::join_paths([root.as_path(), Path::new("/dev")]).unwrap();
    let (_server, port) = start_server(&[("CLIPGUARD_SERVER__FILE_ROOTS", roots.as_os_str())]);
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let check = |path: &Path| {
        let r = client
            .post(format!("http://127.0.0.1:{port}/v1/clips/check"))
            .json(&json!({"uri": format!("file://{}", path.display())}))
            .send()
            .unwrap_or_else(|e| panic!("{path:?}: no answer ({e})"));
        let status = r.status().as_u16();
        let body: serde_json::Value = r.json().unwrap();
        (
            status,
            body["error"]["code"].as_str().unwrap_or("").to_string(),
            body,
        )
    };

    let (status, code, body) = check(&root.join("clip.mp4"));
    assert_eq!((status, code.as_str()), (200, ""), "{body}");
    for (what, path, kind) in [
        ("a folder", root.join("folder.mp4"), "a directory"),
        ("a FIFO", fifo.clone(), "a FIFO"),
        ("a device", "/dev/zero".into(), "a device"),
    ] {
        let started = Instant::now();
        let (status, code, body) = check(&path);
        assert_eq!(
            (status, code.as_str()),
            (422, "not_a_file"),
            "{what}: {body}"
        );
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(kind), "{what}: {message}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{what} took {:?}",
            started.elapsed()
        );
    }

    // Through the symlinked folder, an existing and a missing file outside answer the same, and
    // the same as a path outside the roots.
    let through_existing = check(&root.join("linked/exists.mp4"));
    let through_missing = check(&root.join("linked/missing.mp4"));
    let outside_existing = check(&outside.join("exists.mp4"));
    let outside_missing = check(&outside.join("missing.mp4"));
    for r in [
        &through_existing,
        &through_missing,
        &outside_existing,
        &outside_missing,
    ] {
        assert_eq!((r.0, r.1.as_str()), (403, "forbidden_path"), "{}", r.2);
    }
    // A file missing inside the roots is still reported as missing.
    let (status, code, body) = check(&root.join("missing.mp4"));
    assert_eq!((status, code.as_str()), (404, "not_found"), "{body}");
}

/// A slow client's connection: the headers and the start of a large upload sent, then a byte
/// now and then.
struct Trickle {
    stream: TcpStream,
    answer: Vec<u8>,
    answered_at: Option<Duration>,
}

impl Trickle {
    fn open(port: u16) -> Self {
        let (head, _) = multipart(&[0u8; 64], 0);
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        // Declares 100 MB; sends the multipart head and an MP4 signature's worth.
        stream
            .write_all(headers(port, 100 << 20).as_bytes())
            .unwrap();
        stream.write_all(&head).unwrap();
        stream
            .write_all(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00")
            .unwrap();
        stream.set_nonblocking(true).unwrap();
        Self {
            stream,
            answer: Vec::new(),
            answered_at: None,
        }
    }

    /// Sends one more byte (ignoring a closed connection) and reads what has come back.
    fn tick(&mut self, elapsed: Duration) {
        if self.answered_at.is_some() {
            return;
        }
        let _ = self.stream.write(b"x");
        let mut buf = [0u8; 4096];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => self.answer.extend_from_slice(&buf[..n]),
                Err(_) => break,
            }
        }
        let text = String::from_utf8_lossy(&self.answer);
        if text.contains("\r\n\r\n") && text.trim_end().ends_with('}') {
            self.answered_at = Some(elapsed);
        }
    }

    fn status(&self) -> u16 {
        String::from_utf8_lossy(&self.answer)
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }
}

/// 60 clients trickling a byte every 200 ms into 100 MB uploads, against a cap of 20 uploads:
/// 40 are refused at once with 503 and Retry-After, the 20 admitted are cut off with 408 once
/// their first 2 s are over (they average far under 64 KiB/s), a real check meanwhile gets 200
/// or 503 with Retry-After (never 500), no answer shows a server path, and no temporary file
/// is left. Bounded: every client is answered within 15 s.
#[test]
fn slow_uploads_in_bulk_are_refused_or_cut_off_and_a_real_check_still_answers() {
    let data = common::data_dir();
    let tmp = data.join("tmp");
    let (_server, port) = start_server(&[
        ("CLIPGUARD_DATA_DIR", data.as_os_str()),
        ("CLIPGUARD_SERVER__MAX_UPLOADS", OsStr::new("20")),
        ("CLIPGUARD_SERVER__BODY_GRACE_S", OsStr::new("2")),
        ("CLIPGUARD_SERVER__UPLOAD_TIMEOUT_S", OsStr::new("30")),
    ]);
    let clip = common::still_clip("chelsea.png", 2, 320, 240, "inputs");
    let started = Instant::now();
    let mut slow: Vec<Trickle> = (0..60).map(|_| Trickle::open(port)).collect();
    // While the uploads are held: a real check.
    std::thread::sleep(Duration::from_millis(500));
    let api = common::Api::new(port);
    let during = api.check_clip(&clip, None);
    assert!(
        during.status == 200 || (during.status == 503 && during.code() == "busy"),
        "{} {}",
        during.status,
        during.json
    );
    while slow.iter().any(|t| t.answered_at.is_none()) {
        let elapsed = started.elapsed();
        assert!(
            elapsed < Duration::from_secs(15),
            "slow clients not cut off"
        );
        for t in &mut slow {
            t.tick(elapsed);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let refused: Vec<&Trickle> = slow.iter().filter(|t| t.status() == 503).collect();
    let cut: Vec<&Trickle> = slow.iter().filter(|t| t.status() == 408).collect();
    assert!(refused.len() >= 40, "{} refused", refused.len());
    assert_eq!(refused.len() + cut.len(), 60);
    for t in &refused {
        let text = String::from_utf8_lossy(&t.answer).to_ascii_lowercase();
        assert!(text.contains("retry-after: 5"), "{text}");
        assert!(t.answered_at.unwrap() < Duration::from_secs(2), "{text}");
    }
    for t in &cut {
        let text = String::from_utf8_lossy(&t.answer);
        assert!(text.contains("slower than 65536 bytes/s"), "{text}");
    }
    for t in &slow {
        let text = String::from_utf8_lossy(&t.answer);
        assert!(
            !text.contains(data.to_str().unwrap()) && !text.contains("upload-"),
            "{text}"
        );
    }
    // Once they are gone, checks are served again and no partial upload is left.
    let after = api.check_clip(&clip, None);
    assert_eq!(after.status, 200, "{}", after.json);
    assert!(uploads_in(&tmp).is_empty(), "{:?}", uploads_in(&tmp));
}
