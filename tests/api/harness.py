"""Real processes for the Python tests: an S3-compatible server (moto) with a bucket, and
`clipguard serve` from `target/release` on free loopback ports, each with a fresh data folder;
clips made with ffmpeg from the fetched test images."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, Optional

REPO = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("CLIPGUARD_BIN", REPO / "target/release/clipguard"))
VENV_BIN = REPO / ".local/venv/bin"
TESTDATA = REPO / ".local/testdata"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, what: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=5)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start at {url}")
            time.sleep(0.1)


class S3:
    """moto in server mode with one bucket; ``env`` is what a client of it needs."""

    def __init__(self, bucket: str):
        port = free_port()
        self.endpoint = f"http://127.0.0.1:{port}"
        self.bucket = bucket
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(
                    urllib.request.Request(f"{self.endpoint}/{bucket}", method="PUT"), timeout=5
                )
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("moto did not start")
                time.sleep(0.1)
        self.env = {
            "AWS_ENDPOINT": self.endpoint,
            "AWS_ALLOW_HTTP": "true",
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": "us-east-1",
        }

    def put(self, key: str, path: Path) -> None:
        # An explicit type: moto reads urllib's default (a form) as a form, and waits.
        req = urllib.request.Request(
            f"{self.endpoint}/{self.bucket}/{key}",
            data=path.read_bytes(),
            method="PUT",
            headers={"Content-Type": "video/mp4"},
        )
        urllib.request.urlopen(req, timeout=30)

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


class Server:
    """`clipguard serve` on a free port; ``url`` is its base URL."""

    def __init__(self, env: Optional[Dict[str, str]] = None):
        assert BINARY.exists(), f"{BINARY} is missing: build it (make test does)"
        self.data = Path(tempfile.mkdtemp(prefix="clipguard-pytest-"))
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        full_env = {k: v for k, v in os.environ.items() if k != "CLIPGUARD_CONFIG"}
        full_env.update(
            {"CLIPGUARD_SERVER__BIND": f"127.0.0.1:{port}", "CLIPGUARD_DATA_DIR": str(self.data)}
        )
        full_env.update(env or {})
        self.log = open(self.data / "server.log", "wb")
        self.proc = subprocess.Popen(
            [str(BINARY), "serve"], cwd=REPO, env=full_env, stdout=self.log, stderr=self.log
        )
        try:
            _wait(self.url + "/healthz", "clipguard")
        except RuntimeError:
            self.stop()
            raise RuntimeError((self.data / "server.log").read_text()[-2000:])

    def request(self, method: str, path: str, body=None, headers=None):
        """Status, headers and parsed JSON (or raw bytes) of one request."""
        data = None
        headers = dict(headers or {})
        if body is not None:
            data = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=300) as res:
                status, hdrs, raw = res.status, res.headers, res.read()
        except urllib.error.HTTPError as e:
            status, hdrs, raw = e.code, e.headers, e.read()
        try:
            return status, hdrs, json.loads(raw)
        except ValueError:
            return status, hdrs, raw

    def enrol_collins(self) -> int:
        """Registers Eileen Collins with the astronaut image as her face."""
        status, _, person = self.request(
            "POST", "/v1/persons", {"name": "Eileen Collins", "aliases": ["Eileen Marie Collins"]}
        )
        assert status == 201, person
        body, ctype = multipart({}, {"image": testdata("astronaut.png")})
        status, _, enrolled = self.raw("POST", f"/v1/persons/{person['id']}/faces", body, ctype)
        assert status == 201, enrolled
        return person["id"]

    def raw(self, method: str, path: str, body: bytes, content_type: str):
        """Like ``request``, with a body already encoded."""
        req = urllib.request.Request(
            self.url + path, data=body, method=method, headers={"Content-Type": content_type}
        )
        try:
            with urllib.request.urlopen(req, timeout=300) as res:
                status, hdrs, raw = res.status, res.headers, res.read()
        except urllib.error.HTTPError as e:
            status, hdrs, raw = e.code, e.headers, e.read()
        try:
            return status, hdrs, json.loads(raw)
        except ValueError:
            return status, hdrs, raw

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def testdata(name: str) -> Path:
    p = TESTDATA / name
    assert p.exists(), f"{p} is missing: run `make test` (it fetches the test images)"
    return p


def still_clip(image: str, seconds: int, out: Path, size: str = "640x360") -> Path:
    """An H.264 MP4 of a still image, ``seconds`` long at 25 fps."""
    if not out.exists():
        w, h = size.split("x")
        subprocess.run(
            [
                "ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-loop", "1",
                "-i", str(testdata(image)),
                "-vf", f"scale={w}:{h}:force_original_aspect_ratio=increase,crop={w}:{h}",
                "-t", str(seconds), "-r", "25", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                "-metadata", f"comment={out.name}", str(out),
            ],
            check=True,
        )
    return out


#: Crops the astronaut to 16:9 around her face and zooms in slowly (as tests/common/mod.rs):
#: a clip in which the registered face is matched.
ASTRONAUT_ZOOM = (
    "crop=512:288:0:0,scale=2560:1440,"
    "zoompan=z='1+0.0015*on':x='iw*0.44-iw/zoom/2':y='ih*0.41-ih/zoom/2':d=1:s=1280x720:fps=30"
)


def astronaut_zoom(frames: int, out: Path) -> Path:
    """A 1280x720 H.264 clip of ``frames`` frames at 30 fps zooming on the astronaut's face."""
    if not out.exists():
        subprocess.run(
            [
                "ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-loop", "1",
                "-i", str(testdata("astronaut.png")), "-vf", ASTRONAUT_ZOOM,
                "-frames:v", str(frames), "-c:v", "libx264", "-pix_fmt", "yuv420p", str(out),
            ],
            check=True,
        )
    return out


def multipart(fields: Dict[str, str], files):
    """A multipart/form-data body in memory (small test files only) and its content type.
    `files` maps part names to paths, or is a list of (name, path) to repeat a name."""
    boundary = "clipguardtestboundary"
    out = b""
    for name, value in fields.items():
        out += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        ).encode()
    for name, path in (files.items() if isinstance(files, dict) else files):
        out += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{path.name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode() + path.read_bytes() + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}"
