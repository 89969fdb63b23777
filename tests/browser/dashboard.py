"""End-to-end browser test of the operators' dashboard, run by `make test`.

Starts the real service on a loopback port with Eileen Collins registered, makes three checks
over HTTP (a clip of her face for a user she has not allowed: block; a cat with her surname in
the prompt: review; a cat: allow), then drives Debian's headless Chromium through chromedriver
(Selenium): the page must show the counts, the blocked clip's evidence thumbnail and the review
item; clicking Approve must clear it from the queue, and the decision log must show the
approval with its attestation. Screenshots go to .local/screenshots/.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / "target" / "release" / "clipguard"
TESTDATA = REPO / ".local" / "testdata"
SHOTS = REPO / ".local" / "screenshots"


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def still(image, vf, out):
    ffmpeg("-loop", "1", "-i", str(TESTDATA / image), "-vf", vf, "-t", "2", "-r", "25",
           "-c:v", "libx264", "-pix_fmt", "yuv420p", str(out))
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, predicate, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def main():
    assert BIN.exists(), f"{BIN} is missing: build with cargo build --release"
    work = Path(tempfile.mkdtemp(prefix="clipguard-dashboard-"))
    env = dict(os.environ, CLIPGUARD_DATA_DIR=str(work / "data"))
    env.pop("CLIPGUARD_CONFIG", None)
    subprocess.run([str(BIN), "persons", "add", "--name", "Eileen Collins",
                    "--image", str(TESTDATA / "astronaut.png")],
                   cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL)
    collins = still("astronaut.png", "crop=512:288:0:0,scale=640:360", work / "collins.mp4")
    cat = still("chelsea.png", "scale=640:360:force_original_aspect_ratio=increase,crop=640:360",
                work / "cat.mp4")

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([str(BIN), "serve"], cwd=REPO,
                              env=dict(env, CLIPGUARD_BIND=f"127.0.0.1:{port}"),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    driver = None
    try:
        def up():
            try:
                return requests.get(base + "/healthz", timeout=1).ok
            except requests.RequestException:
                return False
        wait_for("the server", up, 60)

        def check(clip, meta):
            with open(clip, "rb") as f:
                r = requests.post(base + "/v1/clips/check",
                                  files={"file": (clip.name, f, "video/mp4")},
                                  data={"metadata": json.dumps(meta)}, timeout=60)
            assert r.status_code == 200, r.text
            return r.json()

        blocked = check(collins, {"user": "bob", "clip_id": "gen-collins"})
        assert blocked["decision"]["action"] == "block", blocked["decision"]
        review = check(cat, {"user": "bob", "prompt": "a cat in the style of Collins",
                             "clip_id": "gen-cat-style"})
        assert review["decision"]["action"] == "review", review["decision"]
        allowed = check(cat, {"user": "bob", "clip_id": "gen-cat"})
        assert allowed["decision"]["action"] == "allow", allowed["decision"]
        wait_for("the evidence thumbnail", lambda: requests.get(
            f"{base}/v1/decisions/{blocked['id']}/evidence/0", timeout=5).status_code == 200)

        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                    "--window-size=1440,1000"):
            options.add_argument(arg)
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        driver.get(base + "/dashboard")
        wait = WebDriverWait(driver, 30)
        text = lambda i: driver.find_element(By.ID, i).text
        wait.until(lambda d: text("count-block") == "1" and text("count-review") == "1"
                   and text("count-allow") == "1")
        thumb = wait.until(lambda d: d.find_element(
            By.CSS_SELECTOR, f'#recent .decision[data-id="{blocked["id"]}"] img.thumb'))
        wait.until(lambda d: d.execute_script(
            "return arguments[0].complete && arguments[0].naturalWidth > 0", thumb))
        item = wait.until(lambda d: d.find_element(
            By.CSS_SELECTOR, f'#queue .review-item[data-id="{review["id"]}"]'))
        assert "prompt-may-name-person" in item.text, item.text
        assert "likeness-public-figure" in text("rules-enforce"), text("rules-enforce")
        assert "trial-" in text("rules-shadow") or text("rules-shadow") == "none"
        assert text("queue-size") == "1"
        SHOTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(SHOTS / "dashboard.png"))

        item.find_element(By.CSS_SELECTOR, "input.note").send_keys("a cat, not her")
        item.find_element(By.CSS_SELECTOR, "button.approve").click()
        wait.until(lambda d: not d.find_elements(
            By.CSS_SELECTOR, f'#queue .review-item[data-id="{review["id"]}"]'))
        wait.until(lambda d: text("queue-size") == "0")
        driver.save_screenshot(str(SHOTS / "dashboard-after-approve.png"))

        logged = requests.get(f"{base}/v1/decisions/{review['id']}", timeout=5).json()
        assert logged["review"]["outcome"] == "approve", logged.get("review")
        assert logged["review"]["note"] == "a cat, not her"
        assert logged["review"]["attestation"]["statement"]["decision_id"] == review["id"]
        print(f"dashboard: ok (screenshots in {SHOTS})")
    finally:
        if driver is not None:
            driver.quit()
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
