#!/usr/bin/env python3
"""The pre-publish step of a video generation pipeline, with clipguard.

1. Check the prompt before spending GPU time on it.
2. (Generate the clip: your model's job, not shown.)
3. Check the clip with the prompt it came from.
4. Publish only an allowed clip, with its attestation verified offline and saved beside it.

    python prepublish.py --prompt "a cat on a sofa" --user bob --clip-id gen-42 clip.mp4

Exits 0 when the clip may be published (and writes clip.mp4.attestation.json), 10 when a person
must review it first, 20 when it is blocked, 1 on an error.
"""

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from clipguard import AttestationError, Client, ClipguardError, Decision, verify_attestation

EXIT = {"allow": 0, "review": 10, "block": 20}


def explain(what: str, d: Decision) -> None:
    print(f"{what}: {d.action} (decision {d.id}, policy {d.policy.version})", file=sys.stderr)
    for r in d.rules:
        print(f"  {r.action} by {r.rule}: {r.message}", file=sys.stderr)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("clip", type=Path, help="the generated clip")
    p.add_argument("--prompt", required=True, help="the prompt the clip was generated from")
    p.add_argument("--user", help="the requesting user (consent is checked against it)")
    p.add_argument("--clip-id", help="your id for the clip, echoed in the decision")
    p.add_argument("--url", default=os.environ.get("CLIPGUARD_URL", "http://127.0.0.1:8080"))
    p.add_argument("--api-key", default=os.environ.get("CLIPGUARD_API_KEY"))
    p.add_argument(
        "--public-key",
        help="the service's attestation.pub (hex); by default fetched from the service",
    )
    args = p.parse_args()
    client = Client(args.url, api_key=args.api_key)
    try:
        # 1. The prompt, before generating: a blocked prompt is not worth rendering.
        d = client.check_prompt(args.prompt, user=args.user)
        if d.action == "block":
            explain("prompt", d)
            return EXIT["block"]

        # 3. The clip, with its prompt.
        d = client.check_clip(args.clip, prompt=args.prompt, user=args.user, clip_id=args.clip_id)
        explain("clip", d)
        if d.action != "allow":
            return EXIT[d.action]

        # 4. Verify the attestation offline before publishing, and keep it with the clip.
        attestation = d.attestation
        if attestation is None:  # the service signs every allowed clip: never publish without
            print("error: allowed, but no attestation came with it", file=sys.stderr)
            return 1
        key = (
            Path(args.public_key).read_text().strip()
            if args.public_key
            else client.public_key().public_key
        )
        verify_attestation(attestation, args.clip, key)
        out = args.clip.with_name(args.clip.name + ".attestation.json")
        out.write_text(json.dumps(attestation.to_json(), indent=2))
        print(f"publish {args.clip} with {out}", file=sys.stderr)
        return EXIT["allow"]
    except ClipguardError as e:
        print(f"error: {e.code}: {e.message}", file=sys.stderr)
        return 1
    except AttestationError as e:
        print(f"error: the attestation does not verify ({e.code}): {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
