"""The shapes the service answers with, as frozen dataclasses.

Each type reads the JSON of the compact decision view (the default); the full view, with the
per-frame signals, is returned as a plain dict by ``Client.decision_full``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Literal, Optional

Action = Literal["allow", "review", "block"]
Origin = Literal["check", "audit"]
Outcome = Literal["approve", "reject"]


@dataclass(frozen=True)
class PolicyRef:
    name: str
    version: str

    @classmethod
    def from_json(cls, j: Dict[str, Any]) -> "PolicyRef":
        return cls(name=j["name"], version=j["version"])


@dataclass(frozen=True)
class RuleMatch:
    """A rule that matched, with its evidence (times, boxes, persons, scores)."""

    rule: str
    category: str
    action: Action
    message: str
    evidence: List[Dict[str, Any]]

    @classmethod
    def from_json(cls, j: Dict[str, Any]) -> "RuleMatch":
        return cls(
            rule=j["rule"],
            category=j["category"],
            action=j["action"],
            message=j["message"],
            evidence=list(j["evidence"]),
        )


@dataclass(frozen=True)
class RuleFailure:
    """A rule whose evaluation failed on this input: the decision fails closed to review."""

    rule: str
    error: str

    @classmethod
    def from_json(cls, j: Dict[str, Any]) -> "RuleFailure":
        return cls(rule=j["rule"], error=j["error"])


@dataclass(frozen=True)
class Statement:
    """What an attestation signs. Its canonical JSON is the signed message."""

    action: Action
    clip_sha256: str
    decision_id: str
    issued_at: str
    policy_version: str

    @classmethod
    def from_json(cls, j: Dict[str, Any]) -> "Statement":
        return cls(
            action=j["action"],
            clip_sha256=j["clip_sha256"],
            decision_id=j["decision_id"],
            issued_at=j["issued_at"],
            policy_version=j["policy_version"],
        )

    def to_json(self) -> Dict[str, str]:
        return {
            "action": self.action,
            "clip_sha256": self.clip_sha256,
            "decision_id": self.decision_id,
            "issued_at": self.issued_at,
            "policy_version": self.policy_version,
        }


@dataclass(frozen=True)
class Attestation:
    """A signed statement that a decision allowed these exact clip bytes."""

    statement: Statement
    algorithm: str
    key_id: str
    signature: str

    @classmethod
    def from_json(cls, j: Dict[str, Any]) -> "Attestation":
        return cls(
            statement=Statement.from_json(j["statement"]),
            algorithm=j["algorithm"],
            key_id=j["key_id"],
            signature=j["signature"],
        )

    def to_json(self) -> Dict[str, Any]:
        """The attestation as the service writes it (save it beside the published clip)."""
        return {
            "statement": self.statement.to_json(),
            "algorithm": self.algorithm,
            "key_id": self.key_id,
            "signature": self.signature,
        }


@dataclass(frozen=True)
class Review:
    decision_id: str
    outcome: Outcome
    note: str
    reviewer: str
    created_at: str
    attestation: Optional[Attestation] = None

    @classmethod
    def from_json(cls, j: Dict[str, Any]) -> "Review":
        a = j.get("attestation")
        return cls(
            decision_id=j["decision_id"],
            outcome=j["outcome"],
            note=j["note"],
            reviewer=j["reviewer"],
            created_at=j["created_at"],
            attestation=Attestation.from_json(a) if a else None,
        )


@dataclass(frozen=True)
class ClipSummary:
    duration_s: float
    width: int
    height: int
    analysed_frames: int
    #: Every declared frame and stretch of time was decoded cleanly.
    complete: bool

    @classmethod
    def from_json(cls, j: Dict[str, Any]) -> "ClipSummary":
        return cls(
            duration_s=j["duration_s"],
            width=j["width"],
            height=j["height"],
            analysed_frames=j["analysed_frames"],
            complete=j["complete"],
        )


@dataclass(frozen=True)
class Decision:
    """A logged decision, compact: act on ``action``; publish only with ``attestation``."""

    id: str
    created_at: str
    #: What to do now: the policy's action, or a review's outcome once one decided it.
    action: Action
    origin: Origin
    user: Optional[str]
    clip_id: Optional[str]
    clip_sha256: Optional[str]
    policy: PolicyRef
    rules: List[RuleMatch]
    shadow: List[str]
    failures: List[RuleFailure]
    clip: Optional[ClipSummary]
    attestation: Optional[Attestation]
    review: Optional[Review]
    #: The policy's own action, as logged (differs from ``action`` only after a review).
    policy_action: Optional[Action] = None
    #: The JSON as received.
    raw: Dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @classmethod
    def from_json(cls, j: Dict[str, Any]) -> "Decision":
        return cls(
            id=j["id"],
            created_at=j["created_at"],
            action=j["action"],
            origin=j["origin"],
            user=j.get("user"),
            clip_id=j.get("clip_id"),
            clip_sha256=j.get("clip_sha256"),
            policy=PolicyRef.from_json(j["policy"]),
            rules=[RuleMatch.from_json(r) for r in j["rules"]],
            shadow=list(j["shadow"]),
            failures=[RuleFailure.from_json(f) for f in j["failures"]],
            clip=ClipSummary.from_json(j["clip"]) if j.get("clip") else None,
            attestation=Attestation.from_json(j["attestation"]) if j.get("attestation") else None,
            review=Review.from_json(j["review"]) if j.get("review") else None,
            policy_action=j.get("policy_action", j["action"]),
            raw=j,
        )

    @property
    def allowed(self) -> bool:
        return self.action == "allow"


@dataclass(frozen=True)
class Page:
    """One page of decisions; pass ``next_cursor`` back for the next (None on the last)."""

    decisions: List[Decision]
    next_cursor: Optional[str]

    @classmethod
    def from_json(cls, j: Dict[str, Any]) -> "Page":
        return cls(
            decisions=[Decision.from_json(d) for d in j["decisions"]],
            next_cursor=j.get("next_cursor"),
        )


@dataclass(frozen=True)
class PublicKey:
    algorithm: str
    key_id: str
    #: Hex of the 32-byte ed25519 public key.
    public_key: str

    @classmethod
    def from_json(cls, j: Dict[str, Any]) -> "PublicKey":
        return cls(algorithm=j["algorithm"], key_id=j["key_id"], public_key=j["public_key"])


@dataclass(frozen=True)
class Callback:
    """One callback delivery: its event (decided, reviewed), state, attempts, last status."""

    event: str
    url: str
    state: str
    attempts: int
    last_status: Optional[int]
    last_error: Optional[str]
    next_attempt_at: Optional[str]
    created_at: str
    delivered_at: Optional[str]

    @classmethod
    def from_json(cls, j: Dict[str, Any]) -> "Callback":
        return cls(
            event=j["event"],
            url=j["url"],
            state=j["state"],
            attempts=j["attempts"],
            last_status=j.get("last_status"),
            last_error=j.get("last_error"),
            next_attempt_at=j.get("next_attempt_at"),
            created_at=j["created_at"],
            delivered_at=j.get("delivered_at"),
        )


@dataclass(frozen=True)
class CheckStatus:
    """A check's state: ``queued``, ``screening``, ``decided`` (with ``decision``) or
    ``failed`` (with ``error``: ``{"code", "message"}``), and its callbacks."""

    id: str
    state: str
    created_at: str
    attempts: int
    decision: Optional[Decision]
    error: Optional[Dict[str, str]]
    callbacks: List[Callback]

    @classmethod
    def from_json(cls, j: Dict[str, Any]) -> "CheckStatus":
        return cls(
            id=j["id"],
            state=j["state"],
            created_at=j["created_at"],
            attempts=j["attempts"],
            decision=Decision.from_json(j["decision"]) if j.get("decision") else None,
            error=j.get("error"),
            callbacks=[Callback.from_json(c) for c in j.get("callbacks", [])],
        )
