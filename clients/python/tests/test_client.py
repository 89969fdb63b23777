"""The client against a real server: checks, the decision log, the review queue, and offline
verification of attestations."""

import shutil
from datetime import datetime, timedelta, timezone

import pytest

from clipguard import (
    AttestationError,
    Client,
    ClipguardError,
    Decision,
    sha256_file,
    verify_attestation,
)


@pytest.fixture(scope="module")
def client(server):
    return Client(server.url)


def test_a_prompt_naming_a_registered_person_is_blocked(client):
    d = client.check_prompt("Eileen Collins on the moon", user="bob")
    assert isinstance(d, Decision)
    assert (d.action, d.rules[0].rule, d.rules[0].evidence[0]["name"]) == (
        "block",
        "prompt-names-person",
        "Eileen Collins",
    )
    assert d.attestation is None and d.clip is None
    ok = client.check_prompt("a red kite over the sea")
    assert ok.allowed and ok.rules == []


def test_an_allowed_upload_verifies_offline_and_only_for_its_bytes(client, coffee, tmp_path):
    d = client.check_clip(coffee, prompt="a cup of coffee", user="bob", clip_id="gen-1")
    assert (d.action, d.clip_id, d.clip_sha256) == ("allow", "gen-1", sha256_file(coffee))
    assert d.clip.complete and d.clip.duration_s == pytest.approx(2.0, abs=0.1)
    key = client.public_key()
    verify_attestation(d.attestation, coffee, key.public_key)
    # The attestation as saved to a file and read back (a dict) verifies too.
    verify_attestation(d.attestation.to_json(), coffee, bytes.fromhex(key.public_key))

    changed = tmp_path / "changed.mp4"
    shutil.copy(coffee, changed)
    with open(changed, "r+b") as f:
        f.seek(-1, 2)
        last = f.read(1)
        f.seek(-1, 2)
        f.write(bytes([last[0] ^ 1]))
    with pytest.raises(AttestationError) as e:
        verify_attestation(d.attestation, changed, key.public_key)
    assert e.value.code == "clip_mismatch"

    forged = d.attestation.to_json()
    forged["statement"]["policy_version"] = "anything"
    with pytest.raises(AttestationError) as e:
        verify_attestation(forged, coffee, key.public_key)
    assert e.value.code == "bad_signature"

    with pytest.raises(AttestationError) as e:
        verify_attestation(d.attestation, coffee, "00" * 32)
    assert e.value.code in ("bad_signature", "malformed")


def test_a_likeness_is_blocked_and_the_full_view_has_the_frames(client, astronaut):
    d = client.check_clip(astronaut, user="bob")
    assert d.action == "block" and d.attestation is None
    assert d.rules[0].rule == "likeness-public-figure"
    assert d.id in [x.id for x in client.decisions(rule="likeness-public-figure").decisions]
    assert client.decisions(rule="likeness").decisions == []
    assert client.decision(d.id) == d
    full = client.decision_full(d.id)
    assert full["decision"]["action"] == "block" and full["clip"]["frames"]


def test_a_clip_by_uri_is_found_by_its_clip_id_and_its_exact_time(client, coffee):
    d = client.check_uri(coffee.resolve().as_uri(), clip_id="gen-uri")
    assert d.action == "allow" and d.clip_id == "gen-uri"
    page = client.decisions(clip_id="gen-uri")
    assert [x.id for x in page.decisions] == [d.id] and page.next_cursor is None
    at = datetime.fromisoformat(d.created_at.replace("Z", "+00:00"))
    assert d.id in [x.id for x in client.decisions(since=at, clip_id="gen-uri").decisions]
    later = at + timedelta(microseconds=500)
    assert client.decisions(since=later, clip_id="gen-uri").decisions == []
    # The same instant in another offset.
    east = at.astimezone(timezone(timedelta(hours=5, minutes=30)))
    assert [x.id for x in client.decisions(since=east, clip_id="gen-uri").decisions] == [d.id]
    assert [x.id for x in client.decisions(until=later, clip_id="gen-uri").decisions] == [d.id]


def test_pages_follow_cursors_through_the_whole_log(client):
    for n in range(3):
        client.check_prompt(f"a lighthouse, take {n}")
    everything = [d.id for d in client.decisions(limit=1000).decisions]
    assert len(everything) >= 3
    assert [d.id for d in client.iter_decisions(limit=1)] == everything
    first = client.decisions(limit=2)
    assert len(first.decisions) == 2 and first.next_cursor == first.decisions[-1].id


def test_the_review_queue_is_cleared_by_a_review(client):
    d = client.check_prompt("a cat in the style of Collins", user="bob")
    assert d.action == "review", d.rules
    queue = [x.id for x in client.iter_decisions(action="review")]
    assert d.id in queue
    pending = []
    cursor = None
    while True:
        page = client.reviews(limit=1, cursor=cursor, origin="check")
        pending += [x.id for x in page.decisions]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert d.id in pending
    review = client.review(d.id, "reject", note="a likeness in the prompt")
    assert (review.outcome, review.note, review.attestation) == ("reject", "a likeness in the prompt", None)
    assert d.id not in [x.id for x in client.reviews(limit=1000).decisions]
    assert client.decision(d.id).review == review
    with pytest.raises(ClipguardError) as e:
        client.review(d.id, "approve")
    assert (e.value.status, e.value.code) == (409, "conflict")


def test_errors_carry_their_status_and_code(client, server):
    with pytest.raises(ClipguardError) as e:
        client.decision("no-such-decision")
    assert (e.value.status, e.value.code) == (404, "not_found")
    with pytest.raises(ClipguardError) as e:
        client.decisions(since="yesterday")
    assert (e.value.status, e.value.code) == (400, "invalid_query")
    assert "since" in e.value.message
    with pytest.raises(ValueError):
        client.decisions(since=datetime(2026, 11, 25))
    with pytest.raises(ClipguardError) as e:
        Client(server.url).check_uri("s3://")
    assert (e.value.status, e.value.code) == (400, "invalid_uri")


def test_the_prepublish_example_publishes_allowed_clips_only(server, coffee, astronaut, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    example = Path(__file__).resolve().parents[1] / "examples/prepublish.py"

    def run(clip, prompt):
        return subprocess.run(
            [sys.executable, str(example), str(clip), "--prompt", prompt, "--user", "bob",
             "--url", server.url],
            capture_output=True,
            text=True,
        )

    ok = tmp_path / "ok.mp4"
    shutil.copy(coffee, ok)
    r = run(ok, "a cup of coffee")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "ok.mp4.attestation.json").exists()
    r = run(astronaut, "an astronaut")
    assert r.returncode == 20, r.stderr
    assert "likeness-public-figure" in r.stderr
    r = run(ok, "Eileen Collins drinking coffee")
    assert r.returncode == 20 and "prompt: block" in r.stderr, r.stderr
