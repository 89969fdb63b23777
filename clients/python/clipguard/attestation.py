"""Offline verification of publish attestations: no call to the service, only its public key.

The signature is ed25519 over the statement's canonical JSON (its five string fields in
alphabetical order, without spaces), as the service signs it.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Dict, Union

from .types import Attestation


class AttestationError(Exception):
    """The attestation does not allow publishing this clip; ``code`` says why:
    ``malformed``, ``bad_signature``, ``clip_mismatch`` or ``not_allowed`` (the codes the
    service's ``/v1/attestations/verify`` answers)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def sha256_file(path: Union[str, "os.PathLike[str]"]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def canonical(statement: Dict[str, Any]) -> bytes:
    return json.dumps(statement, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def key_id(public_key: bytes) -> str:
    return hashlib.sha256(public_key).digest()[:8].hex()


def verify_attestation(
    attestation: Union[Attestation, Dict[str, Any]],
    clip: Union[str, "os.PathLike[str]"],
    public_key: Union[str, bytes],
) -> None:
    """Raises ``AttestationError`` unless ``attestation`` is signed by ``public_key`` (hex, as
    ``/v1/attestations/key`` and ``attestation.pub`` give it, or the 32 raw bytes), is for the
    exact bytes of the file at ``clip``, and records an ``allow`` decision."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    a = attestation.to_json() if isinstance(attestation, Attestation) else attestation
    try:
        statement = a["statement"]
        if a["algorithm"] != "ed25519":
            raise AttestationError("malformed", f"unknown algorithm {a['algorithm']!r}")
        signature = bytes.fromhex(a["signature"])
        key = bytes.fromhex(public_key.strip()) if isinstance(public_key, str) else public_key
        verifier = Ed25519PublicKey.from_public_bytes(key)
    except (KeyError, TypeError, ValueError) as e:
        raise AttestationError("malformed", f"attestation or key is malformed: {e}") from None
    try:
        verifier.verify(signature, canonical(statement))
    except InvalidSignature:
        raise AttestationError(
            "bad_signature",
            "the signature does not verify: the statement was changed or signed by another key",
        ) from None
    actual = sha256_file(clip)
    if statement["clip_sha256"] != actual:
        raise AttestationError(
            "clip_mismatch",
            f"the clip does not match: its sha256 is {actual}, "
            f"the attestation is for {statement['clip_sha256']}",
        )
    if statement["action"] != "allow":
        raise AttestationError(
            "not_allowed",
            f"the attestation is for a {statement['action']} decision; "
            "only allowed clips may be published",
        )
