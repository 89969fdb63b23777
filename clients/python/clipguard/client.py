"""A small synchronous client for the clipguard HTTP API, on the standard library only.

Uploads are streamed from disk, never read whole into memory. A 503 (the service is busy, or
the check passed its deadline while screening goes on) is retried after the ``Retry-After``
the service sends: the retry of a clip already screened is answered from its cache.
"""

from __future__ import annotations

import json
import mimetypes
import os
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import datetime
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

from .types import Action, CheckStatus, Decision, Origin, Outcome, Page, PublicKey, Review

When = Union[datetime, str]


class ClipguardError(Exception):
    """An error answer: ``code`` is stable (see the API documentation's table of codes)."""

    def __init__(self, status: int, code: str, message: str, retry_after: Optional[float] = None):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after


class NotDecided(Exception):
    """An asynchronous check not decided yet: ``status`` says where it stands."""

    def __init__(self, status: CheckStatus):
        super().__init__(f"check {status.id} is {status.state}")
        self.status = status


def _when(t: Optional[When]) -> Optional[str]:
    if t is None or isinstance(t, str):
        return t
    if t.tzinfo is None:
        raise ValueError(f"{t!r} has no time zone: use an aware datetime (e.g. timezone.utc)")
    return t.isoformat()


class Client:
    """``Client("http://127.0.0.1:8080", api_key=...)``; ``api_key`` is needed when the service
    has keys configured (a ``checker`` key for checks, ``auditor`` to list and review)."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8080",
        api_key: Optional[str] = None,
        timeout: float = 300.0,
        retries: int = 3,
    ):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.retries = retries

    # -- checks -------------------------------------------------------------------------------

    def check_prompt(
        self, prompt: str, user: Optional[str] = None, consents: Sequence[int] = ()
    ) -> Decision:
        """Checks a prompt before generation."""
        body = {"prompt": prompt, "user": user, "consents": list(consents)}
        return Decision.from_json(self._request("POST", "/v1/prompts/check", body=_drop_none(body)))

    def check_clip(
        self,
        path: Union[str, "os.PathLike[str]"],
        *,
        prompt: Optional[str] = None,
        user: Optional[str] = None,
        consents: Sequence[int] = (),
        clip_id: Optional[str] = None,
        callback_url: Optional[str] = None,
    ) -> Decision:
        """Uploads a clip and checks it (with the prompt it was generated from, if any).
        With ``callback_url`` the decision is also pushed there, and again after a review."""
        metadata = _drop_none(
            {
                "prompt": prompt,
                "user": user,
                "consents": list(consents),
                "clip_id": clip_id,
                "callback_url": callback_url,
            }
        )
        return Decision.from_json(
            self._request(
                "POST",
                "/v1/clips/check",
                upload=(os.fspath(path), json.dumps(metadata)),
            )
        )

    def queue_clip(
        self,
        path: Union[str, "os.PathLike[str]"],
        *,
        prompt: Optional[str] = None,
        user: Optional[str] = None,
        consents: Sequence[int] = (),
        clip_id: Optional[str] = None,
        callback_url: Optional[str] = None,
    ) -> str:
        """Uploads a clip to be checked from the service's queue (``"async": true``); answers
        the id its decision will have (``wait_for_decision``, or the callback, gives it)."""
        metadata = _drop_none(
            {
                "prompt": prompt,
                "user": user,
                "consents": list(consents),
                "clip_id": clip_id,
                "callback_url": callback_url,
                "async": True,
            }
        )
        answer = self._request(
            "POST", "/v1/clips/check", upload=(os.fspath(path), json.dumps(metadata))
        )
        return str(answer["id"])

    def queue_uri(
        self,
        uri: str,
        *,
        prompt: Optional[str] = None,
        user: Optional[str] = None,
        consents: Sequence[int] = (),
        clip_id: Optional[str] = None,
        callback_url: Optional[str] = None,
    ) -> str:
        """As ``queue_clip``, for a clip the service reads itself (``s3://``, ``file://``)."""
        body = {
            "uri": uri,
            "prompt": prompt,
            "user": user,
            "consents": list(consents),
            "clip_id": clip_id,
            "callback_url": callback_url,
            "async": True,
        }
        return str(self._request("POST", "/v1/clips/check", body=_drop_none(body))["id"])

    def check_status(self, check_id: str) -> CheckStatus:
        """A check's state (queued, screening, decided, failed), decision or error, and the
        callbacks made for it with their attempts and last status."""
        return CheckStatus.from_json(self._request("GET", f"/v1/checks/{_seg(check_id)}"))

    def wait_for_decision(
        self, check_id: str, timeout: float = 600.0, poll: float = 0.5
    ) -> Decision:
        """The decision of a queued check, once made; a check that failed raises its error
        (``ClipguardError``), one still undecided after ``timeout`` raises ``NotDecided``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.decision(check_id)
            except NotDecided:
                if time.monotonic() > deadline:
                    raise
                time.sleep(poll)

    def check_uri(
        self,
        uri: str,
        *,
        prompt: Optional[str] = None,
        user: Optional[str] = None,
        consents: Sequence[int] = (),
        clip_id: Optional[str] = None,
    ) -> Decision:
        """Checks a clip the service reads itself: ``s3://bucket/key``, or ``file:///...``
        inside the service's ``server.file_roots``."""
        body = {
            "uri": uri,
            "prompt": prompt,
            "user": user,
            "consents": list(consents),
            "clip_id": clip_id,
        }
        return Decision.from_json(self._request("POST", "/v1/clips/check", body=_drop_none(body)))

    # -- the decision log ---------------------------------------------------------------------

    def decision(self, decision_id: str) -> Decision:
        """A decision by id (``NotDecided`` while an asynchronous check waits)."""
        answer = self._request("GET", f"/v1/decisions/{_seg(decision_id)}")
        if "action" not in answer:
            raise NotDecided(CheckStatus.from_json(answer))
        return Decision.from_json(answer)

    def decision_full(self, decision_id: str) -> Dict[str, Any]:
        """The full decision as logged: signals per frame, prompt matches, verdict."""
        full: Dict[str, Any] = self._request(
            "GET", f"/v1/decisions/{_seg(decision_id)}", query={"view": "full"}
        )
        return full

    def decisions(
        self,
        *,
        action: Optional[Action] = None,
        user: Optional[str] = None,
        clip_sha256: Optional[str] = None,
        clip_id: Optional[str] = None,
        origin: Optional[Origin] = None,
        rule: Optional[str] = None,
        since: Optional[When] = None,
        until: Optional[When] = None,
        limit: Optional[int] = None,
        cursor: Optional[str] = None,
    ) -> Page:
        """One page of decisions, newest first (auditor role). ``since`` is inclusive,
        ``until`` exclusive; both are aware datetimes or RFC 3339 strings."""
        query = {
            "action": action,
            "user": user,
            "clip_sha256": clip_sha256,
            "clip_id": clip_id,
            "origin": origin,
            "rule": rule,
            "since": _when(since),
            "until": _when(until),
            "limit": limit,
            "cursor": cursor,
        }
        return Page.from_json(self._request("GET", "/v1/decisions", query=query))

    def iter_decisions(self, **filters: Any) -> Iterator[Decision]:
        """Every decision matching the filters of ``decisions``, page after page."""
        cursor = None
        while True:
            page = self.decisions(cursor=cursor, **filters)
            yield from page.decisions
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def reviews(
        self,
        *,
        origin: Optional[Origin] = None,
        clip_id: Optional[str] = None,
        limit: Optional[int] = None,
        cursor: Optional[str] = None,
    ) -> Page:
        """One page of the review queue: ``review`` decisions nobody reviewed, oldest first."""
        query = {"origin": origin, "clip_id": clip_id, "limit": limit, "cursor": cursor}
        return Page.from_json(self._request("GET", "/v1/reviews", query=query))

    def review(self, decision_id: str, outcome: Outcome, note: str = "") -> Review:
        """Records the review of a ``review`` decision; approving a clip issues its attestation."""
        body = {"outcome": outcome, "note": note}
        return Review.from_json(
            self._request("POST", f"/v1/reviews/{_seg(decision_id)}", body=body)
        )

    def public_key(self) -> PublicKey:
        """The key attestations are signed with (keep it to verify offline)."""
        return PublicKey.from_json(self._request("GET", "/v1/attestations/key"))

    # -- the registry (admin; reads: auditor) ---------------------------------------------------

    def add_person(
        self,
        name: str,
        *,
        aliases: Sequence[str] = (),
        kind: str = "public_figure",
        allowed_users: Sequence[str] = (),
    ) -> Dict[str, Any]:
        """Registers a person (names match in prompts and on-screen text); answers the person
        with its ``id``. Enrol faces with ``enrol_faces`` for likeness in clips."""
        body = {
            "name": name,
            "aliases": list(aliases),
            "kind": kind,
            "allowed_users": list(allowed_users),
        }
        person: Dict[str, Any] = self._request("POST", "/v1/persons", body=body)
        return person

    def enrol_faces(self, person_id: int, *images: Union[str, "os.PathLike[str]"]) -> Dict[str, Any]:
        """Enrols a face from each image (one face each; all or nothing)."""
        files = [("image", os.fspath(p)) for p in images]
        answer: Dict[str, Any] = self._request(
            "POST", f"/v1/persons/{person_id}/faces", form=({}, files)
        )
        return answer

    def persons(self) -> List[Dict[str, Any]]:
        listed: List[Dict[str, Any]] = self._request("GET", "/v1/persons")
        return listed

    def person(self, person_id: int) -> Dict[str, Any]:
        person: Dict[str, Any] = self._request("GET", f"/v1/persons/{person_id}")
        return person

    def remove_person(self, person_id: int) -> None:
        self._request("DELETE", f"/v1/persons/{person_id}")

    def grant_consent(self, person_id: int, user: str) -> None:
        """Lets ``user`` depict the person."""
        self._request("PUT", f"/v1/persons/{person_id}/consents/{_seg(user)}")

    def revoke_consent(self, person_id: int, user: str) -> None:
        self._request("DELETE", f"/v1/persons/{person_id}/consents/{_seg(user)}")

    def reload_policy(self) -> Dict[str, Any]:
        """Reloads the policy from its files (a broken one is refused and the running stays)."""
        answer: Dict[str, Any] = self._request("POST", "/v1/policies/reload")
        return answer

    # -- audits (auditor) -----------------------------------------------------------------------

    def start_audit(
        self,
        sources: Sequence[str],
        *,
        compare: bool = False,
        shard: Optional[str] = None,
        policies: Optional[str] = None,
        concurrency: Optional[int] = None,
    ) -> Dict[str, Any]:
        """Starts re-screening stored clips (folders inside the service's file roots, or
        ``s3://`` prefixes); answers the audit's status with its ``id``."""
        body = _drop_none(
            {
                "sources": list(sources),
                "compare": compare,
                "shard": shard,
                "policies": policies,
                "concurrency": concurrency,
            }
        )
        status: Dict[str, Any] = self._request("POST", "/v1/audits", body=body)
        return status

    def audit(self, audit_id: str) -> Dict[str, Any]:
        """An audit's state (running, done, failed) and its counts so far."""
        status: Dict[str, Any] = self._request("GET", f"/v1/audits/{_seg(audit_id)}")
        return status

    def audit_report(self, audit_id: str) -> List[Dict[str, Any]]:
        """The audit's report: one dict per clip, then the summary once done."""
        text = self._request("GET", f"/v1/audits/{_seg(audit_id)}/report", raw=True)
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    # -- transport ----------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        body: Optional[Dict[str, Any]] = None,
        query: Optional[Dict[str, Any]] = None,
        upload: Optional[Tuple[str, str]] = None,
        form: Optional[Tuple[Dict[str, str], List[Tuple[str, str]]]] = None,
        raw: bool = False,
    ) -> Any:
        url = self.base_url + path
        if query:
            q = {k: v for k, v in query.items() if v is not None}
            if q:
                url += "?" + urllib.parse.urlencode(q)
        attempt = 0
        while True:
            headers = {"Accept": "application/json"}
            if self.api_key:
                headers["Authorization"] = f"Bearer {self.api_key}"
            data: Any = None
            if body is not None:
                data = json.dumps(body).encode()
                headers["Content-Type"] = "application/json"
            elif upload is not None or form is not None:
                texts, files = form if form is not None else ({"metadata": upload[1]}, [("file", upload[0])])  # type: ignore[index]
                data, content_type, length = _multipart(texts, files)
                headers["Content-Type"] = content_type
                headers["Content-Length"] = str(length)
            req = urllib.request.Request(url, data=data, method=method, headers=headers)
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as res:
                    answer = res.read()
                    if raw:
                        return answer.decode()
                    return json.loads(answer) if answer else None
            except urllib.error.HTTPError as e:
                err = _error(e)
                if err.status == 503 and attempt < self.retries:
                    attempt += 1
                    time.sleep(min(err.retry_after or 1.0, 60.0))
                    continue
                raise err from None


def _drop_none(d: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def _seg(s: str) -> str:
    return urllib.parse.quote(s, safe="")


def _error(e: urllib.error.HTTPError) -> ClipguardError:
    raw = e.read()
    retry = e.headers.get("Retry-After")
    try:
        detail = json.loads(raw)["error"]
        code, message = detail["code"], detail["message"]
    except (ValueError, KeyError, TypeError):
        code, message = "http_error", raw.decode(errors="replace")[:500]
    return ClipguardError(e.code, code, message, float(retry) if retry else None)


def _multipart(
    texts: Dict[str, str], files: List[Tuple[str, str]]
) -> Tuple[Iterable[bytes], str, int]:
    """A streamed multipart body: the text parts, then each file read in 1 MiB pieces."""
    boundary = uuid.uuid4().hex
    head = "".join(
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{name}"\r\n'
        "Content-Type: application/json\r\n\r\n"
        f"{value}\r\n"
        for name, value in texts.items()
    ).encode()
    file_heads = []
    for field_name, path in files:
        name = os.path.basename(path).replace('"', "")
        ctype = mimetypes.guess_type(path)[0] or "application/octet-stream"
        file_heads.append(
            (
                f"--{boundary}\r\n"
                f'Content-Disposition: form-data; name="{field_name}"; filename="{name}"\r\n'
                f"Content-Type: {ctype}\r\n\r\n"
            ).encode()
        )
    tail = f"--{boundary}--\r\n".encode()
    size = len(head) + len(tail)
    for (_, path), fh in zip(files, file_heads):
        size += len(fh) + os.path.getsize(path) + 2

    def parts() -> Iterable[bytes]:
        yield head
        for (_, path), fh in zip(files, file_heads):
            yield fh
            with open(path, "rb") as f:
                while chunk := f.read(1 << 20):
                    yield chunk
            yield b"\r\n"
        yield tail

    return parts(), f"multipart/form-data; boundary={boundary}", size
