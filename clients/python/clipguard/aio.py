"""``AsyncClient``: the same calls as ``Client`` for asyncio programs. Each call runs the
synchronous client in a worker thread (``asyncio.to_thread``), so the event loop never blocks
on the network or on reading a clip, and many checks can be awaited at once
(``asyncio.gather``); the standard library is still all it needs."""

from __future__ import annotations

import asyncio
import functools
from typing import Any, AsyncIterator, Callable, Optional

from .client import Client
from .types import Decision

#: The ``Client`` methods ``AsyncClient`` offers as coroutines, with the same arguments.
CALLS = (
    "check_prompt",
    "check_clip",
    "check_uri",
    "queue_clip",
    "queue_uri",
    "check_status",
    "wait_for_decision",
    "decision",
    "decision_full",
    "decisions",
    "reviews",
    "review",
    "public_key",
    "add_person",
    "enrol_faces",
    "persons",
    "person",
    "remove_person",
    "grant_consent",
    "revoke_consent",
    "reload_policy",
    "start_audit",
    "audit",
    "audit_report",
)


class AsyncClient:
    """``AsyncClient("http://127.0.0.1:8080", api_key=...)``: ``await client.check_clip(...)``
    and every other ``Client`` call, awaited."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8080",
        api_key: Optional[str] = None,
        timeout: float = 300.0,
        retries: int = 3,
    ):
        self.sync = Client(base_url, api_key=api_key, timeout=timeout, retries=retries)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name not in CALLS:
            raise AttributeError(name)
        call = getattr(self.sync, name)

        @functools.wraps(call)
        async def awaited(*args: Any, **kwargs: Any) -> Any:
            return await asyncio.to_thread(call, *args, **kwargs)

        return awaited

    async def iter_decisions(self, **filters: Any) -> AsyncIterator[Decision]:
        """Every decision matching the filters of ``decisions``, page after page."""
        cursor = None
        while True:
            page = await asyncio.to_thread(self.sync.decisions, cursor=cursor, **filters)
            for d in page.decisions:
                yield d
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        return None
