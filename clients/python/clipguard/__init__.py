"""Client for clipguard: check prompts and clips before publishing, read decisions and the
review queue, and verify publish attestations offline."""

from .attestation import AttestationError, sha256_file, verify_attestation
from .client import Client, ClipguardError
from .types import (
    Attestation,
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
    "Attestation",
    "AttestationError",
    "Client",
    "ClipSummary",
    "ClipguardError",
    "Decision",
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
