"""Client for clipguard: check prompts and clips before publishing, read decisions and the
review queue, and verify publish attestations offline."""

from .aio import AsyncClient
from .attestation import AttestationError, sha256_file, verify_attestation
from .client import Client, ClipguardError, NotDecided
from .types import (
    Attestation,
    Callback,
    CheckStatus,
    ClipSummary,
    Decision,
    Page,
    PolicyRef,
    PublicKey,
    Review,
    RuleFailure,
    RuleMatch,
    Statement,
)

__all__ = [
    "AsyncClient",
    "Attestation",
    "AttestationError",
    "Callback",
    "CheckStatus",
    "Client",
    "ClipSummary",
    "ClipguardError",
    "Decision",
    "NotDecided",
    "Page",
    "PolicyRef",
    "PublicKey",
    "Review",
    "RuleFailure",
    "RuleMatch",
    "Statement",
    "sha256_file",
    "verify_attestation",
]
