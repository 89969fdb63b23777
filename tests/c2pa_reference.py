"""Reads a clip's C2PA manifest with c2pa-python (the Content Authenticity Initiative's own
SDK, an implementation independent of clipguard's use of c2pa-rs) and prints what it finds as
JSON, for tests/c2pa.rs to compare with what clipguard wrote.

Usage: reference.py CLIP TRUST_ANCHORS_PEM
"""

import json
import sys

import c2pa

# id-kp-documentSigning (RFC 9336) and C2PA's signing purpose.
EKUS = "1.3.6.1.5.5.7.3.36\n1.3.6.1.4.1.62558.2.1\n"


def main() -> None:
    clip, anchors = sys.argv[1], sys.argv[2]
    with open(anchors, encoding="ascii") as f:
        pem = f.read()
    context = c2pa.Context.from_dict(
        {
            # The anchors, and the extended key usages a claim signer may have: given
            # anchors, c2pa-python accepts no signer without such a list.
            "trust": {"user_anchors": pem, "trust_config": EKUS},
            "verify": {
                "verify_trust": True,
                "remote_manifest_fetch": False,
                "ocsp_fetch": False,
            },
        }
    )
    out = {"sdk": c2pa.sdk_version()}
    try:
        with open(clip, "rb") as stream:
            reader = c2pa.Reader("video/mp4", stream, context=context)
            out["state"] = reader.get_validation_state()
            manifest = reader.get_active_manifest() or {}
            results = reader.get_validation_results() or {}
    except c2pa.C2paError as e:
        print(json.dumps({**out, "state": "error", "error": str(e)}))
        return
    active = results.get("activeManifest", {})
    out["failures"] = [s.get("code") for s in active.get("failure", [])]
    out["explanations"] = [s.get("explanation") for s in active.get("failure", [])]
    out["generator"] = [g.get("name") for g in manifest.get("claim_generator_info", [])]
    out["signer"] = manifest.get("signature_info", {}).get("common_name")
    actions, decision = [], None
    for a in manifest.get("assertions", []):
        if a["label"].startswith("c2pa.actions"):
            actions.extend(a["data"]["actions"])
        if a["label"] == "org.clipguard.decision":
            decision = a["data"]
    out["actions"] = actions
    out["decision"] = decision
    print(json.dumps(out))


if __name__ == "__main__":
    main()
