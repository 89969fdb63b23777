//! Shared by the integration tests: configuration pointing at the fetched models and images,
//! one loaded screener per test binary, and clips made on demand with the ffmpeg CLI.
#![allow(dead_code)] // each test binary uses a different part

use clipguard::{Config, Screener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn testdata(name: &str) -> PathBuf {
    let p = repo().join(".local/testdata").join(name);
    assert!(
        p.exists(),
        "{} is missing: run `make test` (it fetches the test images)",
        p.display()
    );
    p
}

/// The default configuration, with paths anchored at the repository root and a fresh data
/// folder (an empty registry) for each call.
pub fn config() -> Config {
    let mut cfg = Config::default();
    let root = repo();
    cfg.runtime.onnxruntime = root.join(&cfg.runtime.onnxruntime);
    cfg.models.manifest = root.join(&cfg.models.manifest);
    cfg.models.dir = root.join(&cfg.models.dir);
    cfg.policies.dir = root.join(&cfg.policies.dir);
    cfg.data_dir = data_dir();
    cfg.update_settings(|m: &mut clipguard::analysers::MeaningConfig| {
        m.cache_dir = Some(meaning_cache())
    });
    cfg
}

/// One folder for the text categories' phrase embeddings, shared by every test process (each
/// data folder is new, and embedding the phrases takes seconds of CPU).
pub fn meaning_cache() -> PathBuf {
    repo().join(".local/cache/meaning")
}

/// A new empty folder under the test binary's temporary folder.
pub fn data_dir() -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = clips_dir().join(format!("data{n}"));
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub fn screener() -> &'static Screener {
    static S: OnceLock<std::sync::Arc<Screener>> = OnceLock::new();
    S.get_or_init(|| service(config()).screener().clone())
}

/// The live snapshots (registry, categories, banks, Content Credentials) of a service on the
/// default configuration.
pub fn live() -> &'static clipguard::screen::Live {
    static L: OnceLock<std::sync::Arc<clipguard::screen::Live>> = OnceLock::new();
    L.get_or_init(|| service(config()).live().clone())
}

/// The check service on `cfg`, as the CLI and the server build it.
pub fn service(cfg: clipguard::Config) -> std::sync::Arc<clipguard::service::CheckService> {
    clipguard::service::Context::open(cfg)
        .and_then(|c| c.service(1, 1))
        .expect("models load (run `make test` to fetch them)")
}

/// A clip at `clip` checked through `service` as the pipeline's pre-publish check would be,
/// waiting for its decision (a 300 s deadline).
pub fn check_clip(
    service: &std::sync::Arc<clipguard::service::CheckService>,
    clip: &Path,
    request: clipguard::vocab::CheckRequest,
) -> clipguard::vocab::Decision {
    use clipguard::service::{ClipLocation, ClipSource};
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(service.check_clip(
            ClipSource::At(ClipLocation::Path(clip.to_path_buf())),
            request,
            clipguard::vocab::Origin::Check,
            std::time::Instant::now() + std::time::Duration::from_secs(300),
        ))
        .unwrap()
        .decision
}

pub fn rgb(name: &str) -> image::RgbImage {
    image::open(testdata(name))
        .expect("test image decodes")
        .to_rgb8()
}

/// The head of `photo` around its face (one face box of margin each side: hair, neck, a little
/// background), mirrored so it is not the enrolment image, and the face box's shorter side.
pub fn head(photo: &str) -> (image::RgbImage, f32) {
    use image::imageops;
    let img = rgb(photo);
    let faces = screener().vision().faces.detect_at(&img, 2048).unwrap();
    let f = faces
        .iter()
        .max_by(|a, b| a.score.total_cmp(&b.score))
        .expect("the photograph shows a face")
        .bbox;
    let x0 = (f.x - f.w).max(0.0) as u32;
    let y0 = (f.y - f.h).max(0.0) as u32;
    let x1 = ((f.x + 2.0 * f.w) as u32).min(img.width());
    let y1 = ((f.y + 2.0 * f.h) as u32).min(img.height());
    let crop = imageops::crop_imm(&img, x0, y0, x1 - x0, y1 - y0).to_image();
    (imageops::flip_horizontal(&crop), f.w.min(f.h))
}

/// The head of `photo` scaled so its face is `px` on the shorter side.
pub fn head_at(photo: &str, px: u32) -> image::RgbImage {
    let (head, face_px) = head(photo);
    let s = px as f32 / face_px;
    let (w, h) = (
        (head.width() as f32 * s).round() as u32,
        (head.height() as f32 * s).round() as u32,
    );
    image::imageops::resize(&head, w, h, image::imageops::FilterType::CatmullRom)
}

/// Seconds a walk-in clip lasts, and how fast the head walks in (frame pixels a second).
pub const WALK_S: u32 = 10;
pub const WALK_PX_PER_S: u32 = 240;

/// A 10 s 30 fps H.264 clip of the launch pad at `w`x`h` in which the head of `photo` (face
/// `px` on its shorter side) slides in from the left edge from `enters_s`, without a cut, at
/// `WALK_PX_PER_S`, and stops a third of the way across; `None`: the launch pad alone.
pub fn walk_in_clip(photo: Option<&str>, px: u32, (w, h): (u32, u32), enters_s: f64) -> PathBuf {
    let who = photo.unwrap_or("nobody");
    let out = clips_dir().join(format!("walk-{who}-{px}-{w}x{h}-{enters_s}.mp4"));
    if out.exists() {
        return out;
    }
    let tag = fastrand::u64(..);
    let scene = image::imageops::resize(
        &rgb("rocket.jpg"),
        w,
        h,
        image::imageops::FilterType::Triangle,
    );
    let bg = out.with_extension(format!("{tag}.bg.png"));
    scene.save(&bg).unwrap();
    let partial = out.with_extension(format!("{tag}.partial.mp4"));
    let secs = WALK_S.to_string();
    let mut args: Vec<String> = ["-framerate", "30", "-loop", "1", "-t", &secs, "-i"]
        .map(String::from)
        .to_vec();
    args.push(bg.to_str().unwrap().into());
    if let Some(photo) = photo {
        let head = out.with_extension(format!("{tag}.head.png"));
        head_at(photo, px).save(&head).unwrap();
        args.extend(["-framerate", "30", "-loop", "1", "-t", &secs, "-i"].map(String::from));
        args.push(head.to_str().unwrap().into());
        args.push("-filter_complex".into());
        args.push(format!(
            "[0][1]overlay=x='if(lt(t,{enters_s}),-w,min(-w+(t-{enters_s})*{WALK_PX_PER_S},W/3))':y=(H-h)/2:eval=frame"
        ));
    }
    let frames = (30 * WALK_S).to_string();
    args.extend(
        [
            "-frames:v",
            &frames,
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
        ]
        .map(String::from),
    );
    args.push(partial.to_str().unwrap().into());
    ffmpeg(&args.iter().map(String::as_str).collect::<Vec<_>>());
    std::fs::rename(&partial, &out).unwrap();
    out
}

/// Runs the ffmpeg CLI (quietly) and panics with its stderr on failure.
pub fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg runs");
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs the `clipguard` binary from the repository root: success (exit status 0), stdout,
/// stderr. It gets a fresh data folder unless `env` names one, and never the developer's
/// config file.
pub fn cli(args: &[&str], env: &[(&str, &Path)]) -> (bool, String, String) {
    let (status, out, err) = cli_status(args, env);
    (status == 0, out, err)
}

/// As `cli`, with the exit status itself (`check` exits 10 for review, 20 for block).
pub fn cli_status(args: &[&str], env: &[(&str, &Path)]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_clipguard"));
    cmd.args(args)
        .current_dir(repo())
        .env_remove("CLIPGUARD_CONFIG")
        .env("CLIPGUARD_DATA_DIR", data_dir())
        .env("CLIPGUARD_MEANING__CACHE_DIR", meaning_cache());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().expect("exited, not killed"),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// One HTTP/1.1 request to 127.0.0.1:`port`: the status code and body, or None if the
/// server is not answering (yet).
pub fn http(port: u16, method: &str, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .ok()?;
    write!(s, "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let status = out.get(9..12)?.parse().ok()?;
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((status, body))
}

/// Starts `clipguard serve` on a free loopback port with extra environment, and waits until
/// it answers. The child is killed when the returned guard drops.
pub fn start_server(env: &[(&str, &std::ffi::OsStr)]) -> (ServerGuard, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_clipguard"));
    cmd.arg("serve")
        .current_dir(repo())
        .env("CLIPGUARD_SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("CLIPGUARD_DATA_DIR", data_dir())
        .env("CLIPGUARD_MEANING__CACHE_DIR", meaning_cache())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let guard = ServerGuard(cmd.spawn().unwrap());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while http(port, "GET", "/healthz").is_none() {
        assert!(std::time::Instant::now() < deadline, "server did not start");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    (guard, port)
}

pub struct ServerGuard(pub std::process::Child);

impl Drop for ServerGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Makes a key with `clipguard keys new` and returns (key, config lines).
pub fn new_key(role: &str, name: &str) -> (String, String) {
    new_key_with(&["--role", role, "--name", name])
}

/// As `new_key`, with the arguments of `keys new` given.
pub fn new_key_with(args: &[&str]) -> (String, String) {
    let args: Vec<&str> = ["keys", "new"].iter().chain(args).copied().collect();
    let (ok, out, err) = cli(&args, &[]);
    assert!(ok, "{err}");
    let key = out
        .lines()
        .find_map(|l| l.strip_prefix("# cg_"))
        .map(|k| format!("cg_{k}"))
        .expect("the key is printed");
    let config: String = out
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(!config.contains(&key), "the config holds only the hash");
    (key, config)
}

/// A folder of generated clips that lives for the whole test binary.
pub fn clips_dir() -> &'static Path {
    static D: OnceLock<tempfile::TempDir> = OnceLock::new();
    D.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

/// `vf` crops the astronaut to 16:9 around her face and zooms in slowly, centred on it.
pub const ASTRONAUT_ZOOM: &str = "crop=512:288:0:0,scale=2560:1440,\
zoompan=z='1+0.0015*on':x='iw*0.44-iw/zoom/2':y='ih*0.41-ih/zoom/2':d=1:s=1280x720:fps=30";

/// The 10 s 1280x720 H.264 clip zooming on the astronaut's face (made once per test binary).
pub fn astronaut_zoom_clip() -> PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let out = clips_dir().join("astronaut_zoom.mp4");
        let src = testdata("astronaut.png");
        ffmpeg(&[
            "-loop",
            "1",
            "-i",
            src.to_str().unwrap(),
            "-vf",
            ASTRONAUT_ZOOM,
            "-frames:v",
            "300",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            out.to_str().unwrap(),
        ]);
        out
    })
    .clone()
}

/// A clip made from a still image: `seconds` long at `w`x`h`, H.264 in MP4. `tag` goes into the
/// container's metadata, so clips from one image can still differ in bytes (and sha256).
pub fn still_clip(image: &str, seconds: u32, w: u32, h: u32, tag: &str) -> PathBuf {
    let vf = format!("scale={w}:{h}:force_original_aspect_ratio=increase,crop={w}:{h}");
    still_clip_vf(image, &vf, seconds, &format!("{w}x{h}-{tag}"))
}

/// A clip made from a still image through the filter `vf`, `seconds` long at 25 fps.
pub fn still_clip_vf(image: &str, vf: &str, seconds: u32, tag: &str) -> PathBuf {
    let out = clips_dir().join(format!("{image}-{seconds}s-{tag}.mp4"));
    if !out.exists() {
        encode_still(&testdata(image), vf, seconds, tag, &out);
    }
    out
}

/// Encodes the image at `src` through the filter `vf` as a `seconds` long H.264 clip at 25 fps
/// to `out`, with `tag` as its title. Written beside it and renamed into place: tests running
/// side by side may ask for the same clip, and none may read one half written.
pub fn encode_still(src: &Path, vf: &str, seconds: u32, tag: &str, out: &Path) {
    let partial = out.with_extension(format!("partial-{}.mp4", fastrand::u64(..)));
    ffmpeg(&[
        "-loop",
        "1",
        "-i",
        src.to_str().unwrap(),
        "-vf",
        vf,
        "-t",
        &seconds.to_string(),
        "-r",
        "25",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-metadata",
        &format!("title={tag}"),
        partial.to_str().unwrap(),
    ]);
    std::fs::rename(&partial, out).unwrap();
}

/// A blocking client for a server started by `start_server`.
pub struct Api {
    pub base: String,
    pub key: Option<String>,
    client: reqwest::blocking::Client,
}

/// Status, headers and JSON body (Null when the body is not JSON).
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub json: serde_json::Value,
}

impl Reply {
    /// The error code of an error reply.
    pub fn code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or("")
    }
}

impl Api {
    pub fn new(port: u16) -> Self {
        Self {
            base: format!("http://127.0.0.1:{port}"),
            key: None,
            client: reqwest::blocking::Client::builder()
                .timeout(std::time::Duration::from_secs(120))
                .build()
                .unwrap(),
        }
    }

    pub fn with_key(port: u16, key: &str) -> Self {
        Self {
            key: Some(key.to_string()),
            ..Self::new(port)
        }
    }

    fn send(&self, rb: reqwest::blocking::RequestBuilder) -> Reply {
        self.try_send(rb).expect("the server answers")
    }

    /// None when the server does not answer (stopped, killed).
    fn try_send(&self, rb: reqwest::blocking::RequestBuilder) -> Option<Reply> {
        let rb = match &self.key {
            Some(k) => rb.bearer_auth(k),
            None => rb,
        };
        let res = rb.send().ok()?;
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().ok()?;
        Some(Reply {
            status,
            headers,
            json: serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        })
    }

    pub fn try_post_json(&self, path: &str, body: &serde_json::Value) -> Option<Reply> {
        self.try_send(self.client.post(format!("{}{path}", self.base)).json(body))
    }

    /// Uploads a clip for checking, asking for the full decision (with the screening's
    /// timings, which the load benchmarks read); None if the server did not answer.
    pub fn try_check_clip(&self, clip: &Path) -> Option<Reply> {
        let form = reqwest::blocking::multipart::Form::new()
            .file("file", clip)
            .ok()?;
        self.try_send(
            self.client
                .post(format!("{}/v1/clips/check?view=full", self.base))
                .multipart(form),
        )
    }

    pub fn get(&self, path: &str) -> Reply {
        self.send(self.client.get(format!("{}{path}", self.base)))
    }

    pub fn send_put(&self, path: &str) -> Reply {
        self.send(self.client.put(format!("{}{path}", self.base)))
    }

    pub fn delete(&self, path: &str) -> Reply {
        self.send(self.client.delete(format!("{}{path}", self.base)))
    }

    pub fn post_json(&self, path: &str, body: &serde_json::Value) -> Reply {
        self.send(self.client.post(format!("{}{path}", self.base)).json(body))
    }

    /// A POST with a raw body and content type (for malformed bodies).
    pub fn post_raw(&self, path: &str, content_type: &str, body: Vec<u8>) -> Reply {
        self.send(
            self.client
                .post(format!("{}{path}", self.base))
                .header("content-type", content_type)
                .body(body),
        )
    }

    /// A multipart POST: files as (field, path), text fields as (field, text).
    pub fn post_form(&self, path: &str, files: &[(&str, &Path)], text: &[(&str, &str)]) -> Reply {
        let mut form = reqwest::blocking::multipart::Form::new();
        for (field, p) in files {
            form = form
                .file(field.to_string(), p)
                .expect("the file to upload exists");
        }
        for (field, t) in text {
            form = form.text(field.to_string(), t.to_string());
        }
        self.send(
            self.client
                .post(format!("{}{path}", self.base))
                .multipart(form),
        )
    }

    /// Checks a clip upload with optional metadata JSON.
    pub fn check_clip(&self, clip: &Path, metadata: Option<serde_json::Value>) -> Reply {
        let meta = metadata.map(|m| m.to_string());
        let text: Vec<(&str, &str)> = meta.iter().map(|m| ("metadata", m.as_str())).collect();
        self.post_form("/v1/clips/check", &[("file", clip)], &text)
    }

    /// The sum of the `/metrics` samples named `name` whose labels include all of `labels`.
    pub fn metric(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let text = self
            .client
            .get(format!("{}/metrics", self.base))
            .send()
            .unwrap()
            .text()
            .unwrap();
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let (series, value) = l.rsplit_once(' ')?;
                let (n, rest) = series.split_once('{').unwrap_or((series, ""));
                let matches = n == name
                    && labels
                        .iter()
                        .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
                matches.then(|| value.parse::<f64>().unwrap())
            })
            .sum()
    }
}

/// An S3-compatible server (moto, from the set-up's Python environment) on a free loopback
/// port, with `bucket` created. Returns the guard and the environment a client needs.
pub fn s3_server(bucket: &str) -> (ServerGuard, Vec<(&'static str, String)>) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let moto = repo().join(".local/venv/bin/moto_server");
    assert!(
        moto.exists(),
        "{} is missing: run `make test`",
        moto.display()
    );
    let guard = ServerGuard(
        Command::new(moto)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let endpoint = format!("http://127.0.0.1:{port}");
    let client = reqwest::blocking::Client::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        match client.put(format!("{endpoint}/{bucket}")).send() {
            Ok(r) if r.status().is_success() => break,
            _ => {
                assert!(std::time::Instant::now() < deadline, "moto did not start");
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
    }
    let env = vec![
        ("AWS_ENDPOINT", endpoint),
        ("AWS_ALLOW_HTTP", "true".into()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("AWS_REGION", "us-east-1".into()),
    ];
    (guard, env)
}

/// Puts a file into the S3 server at `bucket/key`.
pub fn s3_put(env: &[(&str, String)], bucket: &str, key: &str, file: &Path) {
    let endpoint = &env.iter().find(|(k, _)| *k == "AWS_ENDPOINT").unwrap().1;
    let r = reqwest::blocking::Client::new()
        .put(format!("{endpoint}/{bucket}/{key}"))
        .body(std::fs::read(file).unwrap())
        .send()
        .unwrap();
    assert!(r.status().is_success(), "PUT {key}: {}", r.status());
}

/// Copies a folder recursively (a policies folder to change in a test).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// `n` copies of a clip in `dir`, named `name-NN.mp4`, that differ only in a metadata tag:
/// the same pictures and screening work, distinct bytes and sha256s.
pub fn remux_copies(base: &Path, dir: &Path, n: usize, name: &str) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    (0..n)
        .map(|i| {
            let out = dir.join(format!("{name}-{i:02}.mp4"));
            if !out.exists() {
                ffmpeg(&[
                    "-i",
                    base.to_str().unwrap(),
                    "-c",
                    "copy",
                    "-metadata",
                    &format!("comment={name}-{i}"),
                    out.to_str().unwrap(),
                ]);
            }
            out
        })
        .collect()
}

/// A new data folder with Eileen Collins registered from astronaut.png (no one allowed to
/// depict her), added through the CLI.
pub fn data_with_collins() -> PathBuf {
    let data = data_dir();
    let image = testdata("astronaut.png");
    let args = [
        "persons",
        "add",
        "--name",
        "Eileen Collins",
        "--image",
        image.to_str().unwrap(),
    ];
    let (ok, out, err) = cli(&args, &[("CLIPGUARD_DATA_DIR", &data)]);
    assert!(ok && out.contains("added person 1"), "{out}{err}");
    data
}
