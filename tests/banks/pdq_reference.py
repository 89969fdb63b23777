#!/usr/bin/env python3
"""PDQ hashes of images by Meta's reference code, for tests/banks.rs.

Runs the `pdqhash` 0.2.8 package (Python bindings to Meta's C++ PDQ) on each PNG named on the
command line and prints one JSON object per line: path, hash (64 hex digits in the order of
Meta's tools: the 256 bits from the first) and quality (0-100). The test writes the frames as
lossless PNGs, so both sides hash identical pixels.
"""
import json
import sys

import numpy as np
import pdqhash
from PIL import Image


def main():
    for path in sys.argv[1:]:
        rgb = np.asarray(Image.open(path).convert("RGB"))
        bits, quality = pdqhash.compute(rgb)
        hex_hash = "%064x" % int("".join(str(int(b)) for b in bits), 2)
        print(json.dumps({"path": path, "hash": hex_hash, "quality": int(quality)}))


if __name__ == "__main__":
    main()
