//! Logs for operators: with `log.format = "json"`, one JSON object per line; one access line
//! per request carrying its id (the caller's `X-Request-Id` or a new one, sent back in the
//! answer's header), and a 5xx logged with its cause under the same id.

mod common;

use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn json_access_lines_carry_the_request_id_and_a_5xx_is_logged_with_its_cause() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let data = common::data_dir();
    let log_path = common::clips_dir().join("server-json.log");
    let child = Command::new(env!("CARGO_BIN_EXE_clipguard"))
        .arg("serve")
        .env_remove("CLIPGUARD_CONFIG")
        .env_remove("RUST_LOG")
        .env("CLIPGUARD_SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("CLIPGUARD_DATA_DIR", &data)
        .env("CLIPGUARD_LOG__FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let _guard = common::ServerGuard(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    while common::http(port, "GET", "/healthz").is_none() {
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::blocking::Client::new();

    let res = client
        .get(format!("{base}/healthz"))
        .header("X-Request-Id", "trace-1")
        .send()
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-request-id"], "trace-1");

    let res = client.get(format!("{base}/no/such/route")).send().unwrap();
    assert_eq!(res.status(), 404);
    let made = res.headers()["x-request-id"].to_str().unwrap().to_string();
    assert!(uuid::Uuid::parse_str(&made).is_ok(), "{made}");

    // The upload folder gone: the upload cannot be written, a disk failure answered 500.
    std::fs::remove_dir_all(data.join("tmp")).unwrap();
    let form = reqwest::blocking::multipart::Form::new().part(
        "file",
        reqwest::blocking::multipart::Part::bytes(vec![0u8; 4096])
            .file_name("clip.mp4")
            .mime_str("video/mp4")
            .unwrap(),
    );
    let res = client
        .post(format!("{base}/v1/clips/check"))
        .header("X-Request-Id", "trace-500")
        .multipart(form)
        .send()
        .unwrap();
    assert_eq!(res.status(), 500);
    assert_eq!(res.headers()["x-request-id"], "trace-500");

    // The access line is written once the answer is sent; give it a moment.
    std::thread::sleep(Duration::from_millis(300));
    let text = std::fs::read_to_string(&log_path).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let access = |id: &str| -> &Value {
        let found: Vec<&Value> = lines
            .iter()
            .filter(|l| l["target"] == "clipguard::access" && l["request_id"] == id)
            .collect();
        assert_eq!(found.len(), 1, "one access line for {id}:\n{text}");
        found[0]
    };
    let ok = access("trace-1");
    assert_eq!(ok["status"], 200);
    assert_eq!(ok["method"], "GET");
    assert_eq!(ok["path"], "/healthz");
    assert_eq!(ok["level"], "INFO");
    assert!(ok["ms"].as_f64().is_some(), "{ok}");
    assert_eq!(access(&made)["status"], 404);
    let failed = access("trace-500");
    assert_eq!(failed["status"], 500);
    assert_eq!(failed["level"], "ERROR");
    // The cause, logged under the request's id.
    let cause = lines
        .iter()
        .find(|l| l["code"] == "io" && l["span"]["request_id"] == "trace-500")
        .unwrap_or_else(|| panic!("no error line with the cause:\n{text}"));
    assert_eq!(cause["level"], "ERROR");
    // The cause without the server's path (hardening: no path in any message).
    let error = cause["error"].as_str().unwrap();
    assert!(
        error.contains("not found") && !error.contains("/tmp/"),
        "{cause}"
    );
}
