"""The calls a generation pipeline and its operators make, against a real server: the asyncio
client, queued checks, the review loop, the registry and audits."""

import asyncio
import time

import harness
import pytest

from clipguard import AsyncClient, CheckStatus, Client, ClipguardError, NotDecided, verify_attestation


@pytest.fixture(scope="module")
def client(server):
    return Client(server.url)


def test_the_async_client_checks_and_queues_clips_concurrently(server, coffee):
    async def run():
        async with AsyncClient(server.url) as c:
            prompt, queued = await asyncio.gather(
                c.check_prompt("a red kite over the sea", user="bob"),
                c.queue_clip(coffee, user="bob", clip_id="queued-1"),
            )
            assert prompt.action == "allow"
            decision = await c.wait_for_decision(queued, timeout=120)
            status = await c.check_status(queued)
            key = await c.public_key()
            found = [d async for d in c.iter_decisions(clip_id="queued-1")]
            return decision, status, key, found

    decision, status, key, found = asyncio.run(run())
    assert (decision.action, decision.clip_id) == ("allow", "queued-1")
    verify_attestation(decision.attestation, coffee, key.public_key)
    assert isinstance(status, CheckStatus)
    assert (status.state, status.decision.id, status.callbacks) == ("decided", decision.id, [])
    assert [d.id for d in found] == [decision.id]


def test_a_queued_check_is_not_decided_until_it_is(client, clips):
    # A clip the service cannot screen: queued at once, then failed, never allowed.
    whole = harness.still_clip("coffee.png", 2, clips / "whole.mp4").read_bytes()
    cut = clips / "cut.mp4"
    cut.write_bytes(whole[: len(whole) // 3])
    queued = client.queue_clip(cut, user="bob")
    deadline = time.monotonic() + 120
    while True:
        try:
            client.decision(queued)
            raise AssertionError("a clip that cannot be screened was decided")
        except NotDecided as e:
            assert e.status.state in ("queued", "screening")
        except ClipguardError as e:
            assert e.status == 422, e
            break
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert client.check_status(queued).state == "failed"
    # Callbacks are off on this server: a callback URL is refused before anything is screened.
    with pytest.raises(ClipguardError) as e:
        client.check_clip(cut, callback_url="https://example.com/hook")
    assert (e.value.status, e.value.code) == (403, "forbidden_callback")


def test_an_approval_closes_the_loop(client):
    d = client.check_prompt("a cat in the style of Collins", user="carol")
    assert (d.action, d.policy_action) == ("review", "review")
    assert d.id in [q.id for q in client.reviews(limit=1000).decisions]
    review = client.review(d.id, "approve", "a cat")
    assert review.outcome == "approve"
    now = client.decision(d.id)
    assert (now.action, now.policy_action, now.review.outcome) == ("allow", "review", "approve")
    rejected = client.check_prompt("a dog in the style of Collins", user="carol")
    client.review(rejected.id, "reject")
    assert client.decision(rejected.id).action == "block"


def test_the_registry_from_the_client(client):
    person = client.add_person("Jane Placeholder", aliases=["J. Placeholder"])
    pid = person["id"]
    assert any(p["id"] == pid for p in client.persons())
    client.grant_consent(pid, "erin")
    assert "erin" in client.person(pid)["allowed_users"]
    client.revoke_consent(pid, "erin")
    assert "erin" not in client.person(pid)["allowed_users"]
    enrolled = client.enrol_faces(pid, harness.testdata("astronaut.png"))
    assert enrolled, enrolled
    with pytest.raises(ClipguardError) as e:
        client.enrol_faces(pid, harness.testdata("coffee.png"))
    assert e.value.status == 422
    client.remove_person(pid)
    with pytest.raises(ClipguardError) as e:
        client.person(pid)
    assert e.value.status == 404
    assert client.reload_policy()


def test_an_audit_from_the_client(client, clips, coffee):
    started = client.start_audit([str(clips)])
    deadline = time.monotonic() + 300
    while (status := client.audit(started["id"]))["state"] == "running":
        assert time.monotonic() < deadline, status
        time.sleep(0.5)
    assert status["state"] == "done", status
    report = client.audit_report(started["id"])
    assert "summary" in report[-1], report[-1]
    assert any(line.get("key", "").endswith("coffee.mp4") for line in report[:-1]), report
