"""End-to-end browser test of the operators' and reviewers' dashboard, run by `make test`.

Starts the real service on a loopback port with Eileen Collins registered, makes four checks
over HTTP (a clip of her face for a user she has not allowed: block; a cat with her surname in
the prompt: review; a cat clip damaged until its decoder reports errors: review, not fully
seen; a cat: allow) and audits the clip of her face with the CLI, then drives Debian's
headless Chromium through chromedriver (Selenium). The page must count live checks apart from
the audit, show the blocked clip's evidence thumbnail and the review items; each decision's
detail view must show its evidence: the face crop for the block, the prompt with the matched
span for the prompt-only review, the whole frame for the boxless coverage evidence; the
filters must find the audit decision and a clip by its id; times are UTC. Clicking Approve
must clear the item from the queue, and the decision log must show the approval with its
attestation. A clip whose soundtrack names her goes to review; its detail shows the transcript
with her name marked, and plays the reviewer's copy of the clip from a segment's time. Screenshots go to .local/screenshots/.
"""

import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import requests
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

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


def mdat(data):
    """The byte range of the top-level mdat box (the coded frames) of an MP4."""
    at = 0
    while at + 8 <= len(data):
        size = int.from_bytes(data[at:at + 4], "big")
        if data[at + 4:at + 8] == b"mdat":
            return at + 8, at + size
        at += size
    raise AssertionError("no mdat box")


def decoder_errors(path):
    out = subprocess.run(["ffmpeg", "-hide_banner", "-v", "error", "-i", str(path), "-f", "null", "-"],
                         capture_output=True, text=True)
    return out.stderr.strip()


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

    # A pipeline's receiver on loopback: the allowed clip's decision is pushed to it, and the
    # detail view shows that callback delivered.
    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass
    receiver = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{receiver.server_port}/hooks/clipguard"

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([str(BIN), "serve"], cwd=REPO,
                              env=dict(env, CLIPGUARD_SERVER__BIND=f"127.0.0.1:{port}",
                                       CLIPGUARD_CALLBACKS__ALLOWED_HOSTS=f"127.0.0.1:{receiver.server_port}",
                                       CLIPGUARD_CALLBACKS__SECRET="dashboard-test-secret"),
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
        assert blocked["action"] == "block", blocked
        review = check(cat, {"user": "bob", "prompt": "a cat in the style of Collins",
                             "clip_id": "gen-cat-style"})
        assert review["action"] == "review", review
        allowed = check(cat, {"user": "bob", "clip_id": "gen-cat", "callback_url": hook})
        assert allowed["action"] == "allow", allowed

        # Bytes flipped in the cat's frames, seeds tried until the decoder reports errors
        # and the service answers review for a clip not fully seen (its evidence: a time, no box).
        original = cat.read_bytes()
        start, end = mdat(original)
        unseen = None
        for seed in range(1, 200):
            rng = random.Random(seed)
            data = bytearray(original)
            for _ in range(12):
                data[rng.randrange(start, end)] ^= 1 << rng.randrange(8)
            damaged = work / f"damaged-{seed}.mp4"
            damaged.write_bytes(data)
            if not decoder_errors(damaged):
                continue
            with open(damaged, "rb") as f:
                r = requests.post(base + "/v1/clips/check", files={"file": (damaged.name, f, "video/mp4")},
                                  data={"metadata": json.dumps({"user": "bob", "clip_id": "gen-damaged"})},
                                  timeout=60)
            rules = [m["rule"] for m in r.json().get("rules", [])] if r.ok else []
            if rules == ["coverage-incomplete"]:
                unseen = r.json()
                break
        assert unseen is not None, "no damaged clip was decided review for its coverage"
        assert unseen["action"] == "review"
        assert "box" not in unseen["rules"][0]["evidence"][0]

        for d in (blocked, unseen):
            wait_for("the evidence thumbnails", lambda: requests.get(
                f"{base}/v1/dashboard/decisions/{d['id']}", timeout=5).json()["thumbnails"] > 0)
        # An audit of the same face: logged with origin audit, counted apart from live checks.
        audit_dir = work / "audit"
        audit_dir.mkdir()
        (audit_dir / "collins.mp4").write_bytes(collins.read_bytes())
        subprocess.run([str(BIN), "audit", str(audit_dir), "--out", str(work / "audit.jsonl")],
                       cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        audited = json.loads((work / "audit.jsonl").read_text().splitlines()[0])
        assert audited["action"] == "block", audited

        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                    "--window-size=1440,1000"):
            options.add_argument(arg)
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        driver.get(base + "/dashboard")
        # Lists are redrawn when they change: an element found may be replaced before it is read.
        wait = WebDriverWait(driver, 30, ignored_exceptions=(StaleElementReferenceException,))
        text = lambda i: driver.find_element(By.ID, i).text
        wait.until(lambda d: text("count-block") == "1" and text("count-review") == "2"
                   and text("count-allow") == "1")
        wait.until(lambda d: text("audit-block") == "1")
        assert text("audit-allow") == "0" and text("audit-review") == "0"
        assert text("status").endswith(" UTC"), text("status")
        thumb = wait.until(lambda d: d.find_element(
            By.CSS_SELECTOR, f'#recent .decision[data-id="{blocked["id"]}"] img.thumb'))
        wait.until(lambda d: d.execute_script(
            "return arguments[0].complete && arguments[0].naturalWidth > 0", thumb))
        item = wait.until(lambda d: d.find_element(
            By.CSS_SELECTOR, f'#queue .review-item[data-id="{review["id"]}"]'))
        assert "prompt-may-name-person" in item.text, item.text
        assert "likeness-public-figure" in text("rules-enforce"), text("rules-enforce")
        assert "trial-" in text("rules-shadow") or text("rules-shadow") == "none"
        assert text("queue-size") == "2"
        assert audited["decision_id"] not in text("recent"), "audits are not live decisions"
        SHOTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(SHOTS / "dashboard.png"))

        def loaded(img):
            return driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", img)

        def open_detail(selector):
            # The lists are redrawn every few seconds: find and click in one step, again if stale.
            def click(d):
                try:
                    d.find_element(By.CSS_SELECTOR, selector).click()
                    return True
                except StaleElementReferenceException:
                    return False
            wait.until(click)
            return wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#detail.shown #detail-panel h2"))

        def close_detail():
            driver.find_element(By.CSS_SELECTOR, "#detail button.close").click()
            wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, "#detail.shown"))

        # The block: the face crop at its time, the facts in UTC, the timeline.
        open_detail(f'#recent .decision[data-id="{blocked["id"]}"] a.open')
        rule = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, '#detail .rule[data-rule="likeness-public-figure"]'))
        frame = rule.find_element(By.CSS_SELECTOR, "img.frame")
        wait.until(lambda d: loaded(frame))
        panel = driver.find_element(By.ID, "detail-panel").text
        assert "Eileen Collins" in panel and "gen-collins" in panel, panel
        assert blocked["created_at"].replace("T", " ")[:19] + " UTC" in panel, panel
        assert driver.find_elements(By.CSS_SELECTOR, "#timeline circle"), "evidence on the timeline"
        driver.save_screenshot(str(SHOTS / "detail-block.png"))
        close_detail()

        # The allowed clip's callback: delivered to the receiver, shown with its attempts and
        # the receiver's answer.
        wait_for("the callback", lambda: requests.get(
            f"{base}/v1/checks/{allowed['id']}", timeout=5).json()["callbacks"][0]["state"] == "delivered")
        # Allowed decisions are not in the recent list: opened by its link, as shared.
        driver.execute_script("location.hash = arguments[0]", "decision/" + allowed["id"])
        wait.until(lambda d: d.find_element(By.ID, "detail-panel").get_attribute("data-id") == allowed["id"])
        row = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, '#detail table.callbacks tr.callback'))
        cells = [c.text for c in row.find_elements(By.TAG_NAME, "td")]
        assert cells[:5] == ["decided", hook, "delivered", "1", "200"], cells
        driver.save_screenshot(str(SHOTS / "detail-callback.png"))
        close_detail()

        # The prompt-only review: no frame, the prompt with the matched span marked.
        open_detail(f'#queue .review-item[data-id="{review["id"]}"] a.open')
        mark = wait.until(lambda d: d.find_element(
            By.CSS_SELECTOR, '#detail .rule[data-rule="prompt-may-name-person"] .prompt mark'))
        assert mark.text == "Collins", mark.text
        prompt = mark.find_element(By.XPATH, "..").text
        assert prompt == "a cat in the style of Collins", prompt
        driver.save_screenshot(str(SHOTS / "detail-prompt.png"))
        close_detail()

        # The boxless coverage evidence: the whole frame at its time, letterboxed in a square
        # (640x360 -> 192x192).
        open_detail(f'#queue .review-item[data-id="{unseen["id"]}"] a.open')
        frame = wait.until(lambda d: d.find_element(
            By.CSS_SELECTOR, '#detail .rule[data-rule="coverage-incomplete"] img.frame'))
        wait.until(lambda d: loaded(frame))
        size = driver.execute_script("return [arguments[0].naturalWidth, arguments[0].naturalHeight]", frame)
        assert size == [192, 192], size
        driver.save_screenshot(str(SHOTS / "detail-coverage.png"))
        close_detail()

        # Filters: the audit decision by origin; the review by the pipeline's clip id.
        Select(driver.find_element(By.CSS_SELECTOR, '#filters select[name="origin"]')).select_by_value("audit")
        driver.find_element(By.CSS_SELECTOR, "#filters button.search").click()
        rows = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#results tr.result"))
        assert [r.get_attribute("data-id") for r in rows] == [audited["decision_id"]]
        Select(driver.find_element(By.CSS_SELECTOR, '#filters select[name="origin"]')).select_by_value("")
        Select(driver.find_element(By.ID, "filter-rule")).select_by_value("prompt-may-name-person")
        driver.find_element(By.ID, "filter-q").send_keys("gen-cat-style")
        driver.find_element(By.CSS_SELECTOR, "#filters button.search").click()
        wait.until(lambda d: [r.get_attribute("data-id") for r in d.find_elements(
            By.CSS_SELECTOR, "#results tr.result")] == [review["id"]])
        driver.execute_script("document.getElementById('filters').scrollIntoView()")
        driver.save_screenshot(str(SHOTS / "dashboard-search.png"))
        open_detail(f'#results tr.result[data-id="{review["id"]}"]')
        wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#detail-panel").get_attribute("data-id") == review["id"])
        close_detail()

        item.find_element(By.CSS_SELECTOR, "input.note").send_keys("a cat, not her")
        item.find_element(By.CSS_SELECTOR, "button.approve").click()
        wait.until(lambda d: not d.find_elements(
            By.CSS_SELECTOR, f'#queue .review-item[data-id="{review["id"]}"]'))
        wait.until(lambda d: text("queue-size") == "1")
        driver.save_screenshot(str(SHOTS / "dashboard-after-approve.png"))

        logged = requests.get(f"{base}/v1/decisions/{review['id']}", timeout=5).json()
        assert logged["review"]["outcome"] == "approve", logged.get("review")
        assert logged["review"]["note"] == "a cat, not her"
        assert logged["review"]["attestation"]["statement"]["decision_id"] == review["id"]

        # A clip whose soundtrack names her: the detail shows the transcript with her name
        # marked, and once the reviewer opens their copy of the clip, a segment's time plays it
        # from there.
        wav = work / "collins.wav"
        subprocess.run(["espeak-ng", "-v", "en-gb-x-rp", "-s", "150", "-w", str(wav),
                        "Hello everyone, this is Eileen Collins. I am telling you that the "
                        "election is cancelled, stay home."], check=True)
        spoken = work / "spoken.mp4"
        ffmpeg("-loop", "1", "-framerate", "25", "-i", str(TESTDATA / "coffee.png"), "-i", str(wav),
               "-vf", "scale=640:360,format=yuv420p", "-c:v", "libx264", "-c:a", "aac",
               "-shortest", str(spoken))
        heard = check(spoken, {"user": "bob", "clip_id": "gen-spoken"})
        assert heard["action"] == "review", heard
        # The meaning model may add its review ("the election is cancelled, stay home" read as
        # self-harm at 0.71: a known false review, closing note of 2026-12-07).
        rules = [m["rule"] for m in heard["rules"] if m["rule"] != "meaning-unsafe"]
        assert rules == ["speech-names-person"], heard
        open_detail(f'#queue .review-item[data-id="{heard["id"]}"] a.open')
        mark = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#detail .speech mark"))
        assert mark.text == "Eileen Collins", mark.text
        buttons = driver.find_elements(By.CSS_SELECTOR, "#detail .speech button.at")
        assert len(buttons) >= 2 and all(not b.is_enabled() for b in buttons)
        driver.find_element(By.CSS_SELECTOR, '#player input[type="file"]').send_keys(str(spoken))
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#player video"))
        wait.until(lambda d: all(b.is_enabled() for b in d.find_elements(
            By.CSS_SELECTOR, "#detail .speech button.at")))
        second = driver.find_elements(By.CSS_SELECTOR, "#detail .speech button.at")[1]
        at = float(second.text.split()[0])
        driver.execute_script("arguments[0].muted = true", driver.find_element(By.CSS_SELECTOR, "#player video"))
        second.click()
        wait.until(lambda d: abs(d.execute_script(
            "return document.querySelector('#player video').currentTime") - at) < 1.5)
        driver.save_screenshot(str(SHOTS / "detail-speech.png"))

        # Approved from the detail view: the detail then reads allow, the queue lets it go, and
        # the API answers allow with the approval's attestation at the top.
        panel = driver.find_element(By.CSS_SELECTOR, "#detail-panel")
        panel.find_element(By.CSS_SELECTOR, ".detail-actions input.note").send_keys("a read-out, approved")
        panel.find_element(By.CSS_SELECTOR, ".detail-actions button.approve").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#detail-panel h2 .pill.allow"))
        assert not driver.find_elements(By.CSS_SELECTOR, "#detail-panel .detail-actions")
        wait.until(lambda d: not d.find_elements(
            By.CSS_SELECTOR, f'#queue .review-item[data-id="{heard["id"]}"]'))
        driver.save_screenshot(str(SHOTS / "detail-after-approve.png"))
        now = requests.get(f"{base}/v1/decisions/{heard['id']}", timeout=5).json()
        assert (now["action"], now["policy_action"]) == ("allow", "review"), now
        assert now["attestation"] == now["review"]["attestation"] and now["attestation"], now
        close_detail()
        print(f"dashboard: ok (screenshots in {SHOTS})")
    finally:
        if driver is not None:
            driver.quit()
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
