#!/usr/bin/env python3
"""What the reference packages say about some audio, for tests/voices.rs.

Input: raw little-endian float32 PCM at 16 kHz mono (the samples clipguard decoded, so both
sides see identical audio). Output (JSON on stdout):

- `vad`: silero-vad 6.2.3's per-window speech probabilities, computed as the package's
  `OnnxWrapper` computes them (each 512-sample window after the previous window's last 64
  samples, the state carried over, on ONNX Runtime with the package's own `silero_vad.onnx`),
  and the speech spans of the package's own `get_speech_timestamps_from_probs` (the state
  machine `get_speech_timestamps` ends in) with its defaults. `utils_vad` imports torch at the
  top for its other functions; a stand-in module without any behaviour is put in its place, as
  nothing used here touches it.
- `voice`: Resemblyzer 0.1.4's utterance embedding. Its `VoiceEncoder` is a torch module, so
  its forward pass runs on the ONNX conversion (models/convert/resemblyzer_to_onnx.py, checked
  there against a numpy LSTM), and everything around it is the package's own code: `audio.py`'s
  `normalize_volume`, `wav_to_mel_spectrogram` (librosa) and `trim_long_silences` (webrtcvad),
  and `VoiceEncoder.compute_partial_slices`; the padding, the mean of the partial embeddings and
  the final normalisation are `embed_utterance`'s lines, repeated here. Embeddings are given
  for the speech kept by our VAD spans (`--spans`, what clipguard does), by the package's own
  webrtcvad trimming, and without trimming.
"""
import argparse
import importlib.util
import json
import sys
import types
from pathlib import Path

import numpy as np
import onnxruntime as ort


def stand_in_torch():
    """Lets `silero_vad.utils_vad` and `resemblyzer.voice_encoder` import without torch."""
    torch = types.ModuleType("torch")
    torch.no_grad = lambda: (lambda f: f)
    torch.nn = types.ModuleType("torch.nn")
    torch.nn.Module = object
    torch.device = lambda *a, **k: None
    torch.Tensor = type("Tensor", (), {})
    torch.FloatTensor = torch.Tensor
    sys.modules.setdefault("torch", torch)
    sys.modules.setdefault("torch.nn", torch.nn)


def load_module(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def package_dir(name: str) -> Path:
    """The installed package's folder, found without importing it (its __init__ needs torch)."""
    if name in sys.modules:
        return Path(sys.modules[name].__path__[0])
    spec = importlib.util.find_spec(name)
    return Path(spec.submodule_search_locations[0])


def silero(wav: np.ndarray, model: Path) -> dict:
    stand_in_torch()
    # The package's __init__ loads the torch model helpers; only utils_vad is needed.
    root = package_dir("silero_vad")
    pkg = types.ModuleType("silero_vad")
    pkg.__path__ = [str(root)]
    sys.modules.setdefault("silero_vad", pkg)
    utils = load_module("silero_vad.utils_vad", root / "utils_vad.py")

    opts = ort.SessionOptions()
    opts.inter_op_num_threads = 1
    opts.intra_op_num_threads = 1
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"], sess_options=opts)
    window, context_size = 512, 64
    state = np.zeros((2, 1, 128), dtype=np.float32)
    context = np.zeros((1, context_size), dtype=np.float32)
    probs = []
    for start in range(0, len(wav), window):
        chunk = wav[start:start + window]
        if len(chunk) < window:
            chunk = np.pad(chunk, (0, window - len(chunk)))
        x = np.concatenate([context, chunk[None, :]], axis=1).astype(np.float32)
        out, state = session.run(None, {"input": x, "state": state, "sr": np.array(16000, dtype=np.int64)})
        context = x[..., -context_size:]
        probs.append(float(out.item()))
    spans = utils.get_speech_timestamps_from_probs(probs, sampling_rate=16000, audio_length_samples=len(wav))
    return {"probs": probs, "spans": [[s["start"], s["end"]] for s in spans]}


def resemblyzer(wav: np.ndarray, model: Path, spans) -> dict:
    stand_in_torch()
    root = package_dir("resemblyzer")
    pkg = types.ModuleType("resemblyzer")
    pkg.__path__ = [str(root)]
    sys.modules.setdefault("resemblyzer", pkg)
    load_module("resemblyzer.hparams", root / "hparams.py")
    audio = load_module("resemblyzer.audio", root / "audio.py")
    encoder = load_module("resemblyzer.voice_encoder", root / "voice_encoder.py")
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])

    def embed_utterance(w, rate=1.3, min_coverage=0.75):
        wav_slices, mel_slices = encoder.VoiceEncoder.compute_partial_slices(len(w), rate, min_coverage)
        max_wave_length = wav_slices[-1].stop
        if max_wave_length >= len(w):
            w = np.pad(w, (0, max_wave_length - len(w)), "constant")
        mel = audio.wav_to_mel_spectrogram(w)
        mels = np.array([mel[s] for s in mel_slices])
        partials = session.run(None, {"mels": mels})[0]
        raw = np.mean(partials, axis=0)
        return raw / np.linalg.norm(raw, 2), partials, mel

    normalised = audio.normalize_volume(wav, audio.audio_norm_target_dBFS, increase_only=True)
    out = {}
    if spans is not None:
        kept = np.concatenate([normalised[a:b] for a, b in spans]) if spans else normalised[:0]
        e, partials, mel = embed_utterance(kept)
        out["spans"] = {"embedding": e.tolist(), "partials": partials.tolist(), "samples": len(kept),
                        "mel_head": mel[:3].tolist()}
    trimmed = audio.trim_long_silences(normalised)
    e, _, _ = embed_utterance(trimmed)
    out["webrtcvad"] = {"embedding": e.tolist(), "samples": len(trimmed)}
    e, _, _ = embed_utterance(normalised)
    out["untrimmed"] = {"embedding": e.tolist(), "samples": len(normalised)}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pcm", type=Path, help="raw float32 little-endian PCM, 16 kHz mono")
    ap.add_argument("--models", type=Path, required=True, help="folder of the fetched models")
    ap.add_argument("--spans", help="JSON list of [start, end] sample spans to keep for the voice")
    ap.add_argument("--no-voice", action="store_true", help="voice activity only")
    args = ap.parse_args()
    wav = np.fromfile(args.pcm, dtype="<f4")
    out = {"vad": silero(wav, args.models / "silero_vad.onnx")}
    if not args.no_voice:
        spans = json.loads(args.spans) if args.spans else None
        out["voice"] = resemblyzer(wav, args.models / "resemblyzer_voice_encoder.onnx", spans)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
