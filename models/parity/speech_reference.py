#!/usr/bin/env python3
"""What faster-whisper says about the parity clips, for tests/speech_parity.rs.

Speaks each line of tests/speech/parity.tsv with Debian's espeak-ng, resamples it to 16 kHz mono
float with sox, and writes the samples (`NAME.f32`, raw little-endian f32) beside the JSON so
both sides read identical samples. Then runs faster-whisper 1.2.1 (CTranslate2, float32, on the
same model.bin clipguard converts) greedily: `beam_size=1`, temperature 0 only (no fallback),
`condition_on_previous_text=False` (as clipguard), defaults otherwise (language detected,
timestamps on, no VAD), and writes its language, probability and segments.

The model.bin is joined again from the packages' parts (models/fetch.py, verified against the
manifest's `source_sha256`); the tokenizer and config are the fetched files clipguard reads.

usage: speech_reference.py --manifest models/models.toml --cache .local/pypi --models .local/models
                           --clips tests/speech/parity.tsv --out .local/parity/speech
"""
import argparse
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import sys
import tomllib

import numpy as np
from faster_whisper import WhisperModel

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import fetch  # noqa: E402

MODEL = "whisper-base-encoder"


def speak(text: str, voice: str, speed: str, out: Path) -> np.ndarray:
    """espeak-ng to WAV, sox to 16 kHz mono f32; sentences joined by `|` are spoken in turn."""
    with tempfile.TemporaryDirectory() as tmp:
        wavs = []
        for i, sentence in enumerate(text.split("|")):
            wav = Path(tmp) / f"{i}.wav"
            subprocess.run(["espeak-ng", "-v", voice, "-s", speed, "-w", str(wav), sentence], check=True)
            wavs.append(str(wav))
        subprocess.run(["sox", *wavs, "-r", "16000", "-c", "1", "-t", "raw", "-e", "floating-point",
                        "-b", "32", "-L", str(out)], check=True)
    return np.fromfile(out, dtype="<f4")


def vocabulary(tokenizer: Path) -> str:
    """CTranslate2's vocabulary.txt, one token a line by id: the BPE tokens, the special tokens,
    then the 1,501 timestamps (equal to the file the package ships beside model.bin)."""
    t = json.loads(tokenizer.read_text())
    by_id = {i: s for s, i in t["model"]["vocab"].items()}
    by_id.update({a["id"]: a["content"] for a in t["added_tokens"]})
    tokens = [by_id[i] for i in range(max(by_id) + 1)]
    tokens += [f"<|{i * 0.02:.2f}|>" for i in range(1501)]
    return "\n".join(tokens) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--manifest", type=Path, required=True)
    ap.add_argument("--cache", type=Path, required=True, help="the set-up's package cache")
    ap.add_argument("--models", type=Path, required=True, help="the fetched models folder")
    ap.add_argument("--clips", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        # faster-whisper loads a folder: model.bin, config.json, tokenizer.json, vocabulary.
        model_dir = Path(tmp)
        entry = next(m for m in tomllib.loads(args.manifest.read_text())["model"]
                     if m["name"] == MODEL)
        fetch.join_parts(entry, args.cache, model_dir / "model.bin")
        fetch.verify(model_dir / "model.bin", entry["source_sha256"])
        tokenizer = args.models / "whisper-base-tokenizer.json"
        shutil.copy(tokenizer, model_dir / "tokenizer.json")
        shutil.copy(args.models / "whisper-base-config.json", model_dir / "config.json")
        (model_dir / "vocabulary.txt").write_text(vocabulary(tokenizer))
        model = WhisperModel(str(model_dir), device="cpu", compute_type="float32", cpu_threads=2)
        results = {}
        for line in args.clips.read_text().splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            name, voice, speed, text = line.split("\t")
            audio = speak(text, voice, speed, args.out / f"{name}.f32")
            segments, info = model.transcribe(audio, beam_size=1, temperature=0.0,
                                              condition_on_previous_text=False)
            segments = [{"start": s.start, "end": s.end, "text": s.text} for s in segments]
            results[name] = {
                "spoken": text.replace("|", " "),
                "seconds": len(audio) / 16000,
                "language": info.language,
                "language_probability": info.language_probability,
                "segments": segments,
            }
            print(f"{name}: {''.join(s['text'] for s in segments)}")
    (args.out / "speech.json").write_text(json.dumps(results, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
