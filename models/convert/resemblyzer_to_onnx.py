#!/usr/bin/env python3
"""Convert Resemblyzer's speaker encoder (resemblyzer/pretrained.pt, Resemblyzer 0.1.4) to ONNX.

Needs numpy and onnx only: the checkpoint is PyTorch's legacy (pre-zip) serialisation, read here
without torch. That format is a run of pickles: a magic number, the protocol version, system
information, the object itself (tensors refer to storages by persistent id), the list of storage
keys, and then each storage's raw bytes in that order, each preceded by its element count as a
little-endian int64. The parser is strict: every storage the object refers to must be present,
its size must agree, and the whole file must be consumed.

The network is Resemblyzer's `VoiceEncoder`: a 3-layer LSTM (40 mel bands in, 256 hidden), a
linear layer (256 -> 256) on the last layer's final hidden state, ReLU, and L2 normalisation.
Graph input `mels`: [batch, frames, 40] float32 (Resemblyzer's partials are 160 frames);
output `embedding`: [batch, 256], L2-normalised.

PyTorch orders an LSTM's gates input, forget, cell, output; ONNX orders them input, output,
forget, cell: the weights and biases are reordered accordingly. `--check` compares the graph
on ONNX Runtime with a plain numpy LSTM on random input.
"""
import argparse
import collections
import pickle
import struct
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

MAGIC = 0x1950A86A20F9469CFC6C
PROTOCOL = 1001
LAYERS = 3
HIDDEN = 256
MELS = 40
EMBEDDING = 256

STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class StorageType:
    def __init__(self, name: str):
        self.name = name


class Storage:
    def __init__(self, key: str, dtype, numel: int):
        self.key, self.dtype, self.numel = key, dtype, numel
        self.data = None


class TensorRef:
    """A tensor as the pickle describes it; its values come once the storages are read."""

    def __init__(self, storage: Storage, offset: int, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def array(self) -> np.ndarray:
        data = self.storage.data
        itemsize = data.itemsize
        return np.lib.stride_tricks.as_strided(
            data[self.offset:], shape=self.size, strides=[s * itemsize for s in self.stride]
        ).copy()


def rebuild_tensor(storage, offset, size, stride, *_rest):
    return TensorRef(storage, offset, size, stride)


class Opaque:
    """Anything else in the checkpoint (optimizer state classes): kept, never used."""

    def __init__(self, *args, **kwargs):
        self.args = args

    def __setstate__(self, state):
        self.state = state


class Unpickler(pickle.Unpickler):
    def __init__(self, f, storages: dict):
        super().__init__(f)
        self.storages = storages

    def find_class(self, module, name):
        if (module, name) in (("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor")):
            return rebuild_tensor
        if module == "torch" and name in STORAGE_DTYPES:
            return StorageType(name)
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        return Opaque

    def persistent_load(self, saved_id):
        kind = saved_id[0]
        if kind != "storage":
            raise ValueError(f"unexpected persistent id kind {kind!r}")
        storage_type, key, _location, numel, view = saved_id[1:6]
        if view is not None:
            raise ValueError("storage views are not supported")
        if key not in self.storages:
            self.storages[key] = Storage(key, STORAGE_DTYPES[storage_type.name], numel)
        return self.storages[key]


def load_legacy(path: str) -> dict:
    with open(path, "rb") as f:
        if pickle.load(f) != MAGIC:
            raise ValueError("not a legacy PyTorch checkpoint (bad magic number)")
        if pickle.load(f) != PROTOCOL:
            raise ValueError("unsupported legacy protocol version")
        pickle.load(f)  # system information (byte order, type sizes)
        storages: dict = {}
        obj = Unpickler(f, storages).load()
        keys = pickle.load(f)
        for key in keys:
            s = storages[key]
            (numel,) = struct.unpack("<q", f.read(8))
            if numel != s.numel:
                raise ValueError(f"storage {key}: {numel} elements, the pickle says {s.numel}")
            nbytes = numel * np.dtype(s.dtype).itemsize
            raw = f.read(nbytes)
            if len(raw) != nbytes:
                raise ValueError(f"storage {key} is cut short")
            s.data = np.frombuffer(raw, dtype=s.dtype)
        if f.read(1):
            raise ValueError("trailing bytes after the last storage")
        missing = [k for k, s in storages.items() if s.data is None]
        if missing:
            raise ValueError(f"storages referred to but not stored: {missing}")
    return obj


def weights(path: str) -> dict:
    checkpoint = load_legacy(path)
    state = checkpoint["model_state"]
    out = {}
    for name, t in state.items():
        out[name] = t.array().astype(np.float32)
    expected = {"linear.weight": (EMBEDDING, HIDDEN), "linear.bias": (EMBEDDING,)}
    for layer in range(LAYERS):
        inp = MELS if layer == 0 else HIDDEN
        expected |= {
            f"lstm.weight_ih_l{layer}": (4 * HIDDEN, inp),
            f"lstm.weight_hh_l{layer}": (4 * HIDDEN, HIDDEN),
            f"lstm.bias_ih_l{layer}": (4 * HIDDEN,),
            f"lstm.bias_hh_l{layer}": (4 * HIDDEN,),
        }
    for name, shape in expected.items():
        if name not in out or out[name].shape != shape:
            got = out[name].shape if name in out else "missing"
            raise ValueError(f"{name}: expected shape {shape}, found {got}")
    return out


def ifco_to_iofc(w: np.ndarray) -> np.ndarray:
    """PyTorch's gate blocks (input, forget, cell, output) in ONNX's order (input, output, forget, cell)."""
    i, f, c, o = np.split(w, 4, axis=0)
    return np.concatenate([i, o, f, c], axis=0)


def build(w: dict) -> onnx.ModelProto:
    nodes, inits = [], []
    nodes.append(helper.make_node("Transpose", ["mels"], ["x0"], perm=[1, 0, 2]))
    x = "x0"
    for layer in range(LAYERS):
        W = ifco_to_iofc(w[f"lstm.weight_ih_l{layer}"])[None]
        R = ifco_to_iofc(w[f"lstm.weight_hh_l{layer}"])[None]
        B = np.concatenate(
            [ifco_to_iofc(w[f"lstm.bias_ih_l{layer}"]), ifco_to_iofc(w[f"lstm.bias_hh_l{layer}"])]
        )[None]
        inits += [
            numpy_helper.from_array(W, f"W{layer}"),
            numpy_helper.from_array(R, f"R{layer}"),
            numpy_helper.from_array(B, f"B{layer}"),
        ]
        y, yh = f"y{layer}", f"yh{layer}"
        nodes.append(
            helper.make_node("LSTM", [x, f"W{layer}", f"R{layer}", f"B{layer}"], [y, yh], hidden_size=HIDDEN)
        )
        # Y is [seq, num_directions=1, batch, hidden]: drop the direction for the next layer.
        nodes.append(helper.make_node("Squeeze", [y, "axis1"], [f"x{layer + 1}"]))
        x = f"x{layer + 1}"
    inits += [
        numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
        numpy_helper.from_array(np.array([0], dtype=np.int64), "axis0"),
        numpy_helper.from_array(w["linear.weight"].T.copy(), "linear_wt"),
        numpy_helper.from_array(w["linear.bias"], "linear_b"),
    ]
    # Y_h of the last layer: [1, batch, hidden] -> [batch, hidden].
    nodes += [
        helper.make_node("Squeeze", [f"yh{LAYERS - 1}", "axis0"], ["hidden"]),
        helper.make_node("MatMul", ["hidden", "linear_wt"], ["lin"]),
        helper.make_node("Add", ["lin", "linear_b"], ["lin_b"]),
        helper.make_node("Relu", ["lin_b"], ["raw"]),
        helper.make_node("LpNormalization", ["raw"], ["embedding"], axis=1, p=2),
    ]
    graph = helper.make_graph(
        nodes,
        "resemblyzer_voice_encoder",
        [helper.make_tensor_value_info("mels", TensorProto.FLOAT, ["batch", "frames", MELS])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", EMBEDDING])],
        inits,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="clipguard resemblyzer_to_onnx"
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def numpy_reference(w: dict, mels: np.ndarray) -> np.ndarray:
    """Resemblyzer's forward pass in plain numpy (PyTorch's LSTM equations, its gate order)."""

    def sigmoid(v):
        return 1.0 / (1.0 + np.exp(-v))

    x = mels.astype(np.float64)
    batch, frames, _ = x.shape
    for layer in range(LAYERS):
        wi, wh = w[f"lstm.weight_ih_l{layer}"], w[f"lstm.weight_hh_l{layer}"]
        b = w[f"lstm.bias_ih_l{layer}"] + w[f"lstm.bias_hh_l{layer}"]
        h = np.zeros((batch, HIDDEN))
        c = np.zeros((batch, HIDDEN))
        ys = []
        for t in range(frames):
            g = x[:, t] @ wi.T + h @ wh.T + b
            i, f, gg, o = np.split(g, 4, axis=1)
            c = sigmoid(f) * c + sigmoid(i) * np.tanh(gg)
            h = sigmoid(o) * np.tanh(c)
            ys.append(h)
        x = np.stack(ys, axis=1)
    raw = np.maximum(h @ w["linear.weight"].T + w["linear.bias"], 0.0)
    return raw / np.linalg.norm(raw, axis=1, keepdims=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", help="resemblyzer/pretrained.pt")
    ap.add_argument("dest", help="the ONNX file to write")
    ap.add_argument("--check", action="store_true", help="compare with a numpy LSTM on ONNX Runtime")
    args = ap.parse_args()
    try:
        w = weights(args.src)
    except (ValueError, KeyError, pickle.UnpicklingError) as e:
        print(f"error: {args.src}: {e}", file=sys.stderr)
        sys.exit(1)
    model = build(w)
    with open(args.dest, "wb") as f:
        f.write(model.SerializeToString())
    if args.check:
        import onnxruntime as ort

        rng = np.random.default_rng(0)
        mels = rng.random((3, 160, MELS), dtype=np.float32) * 0.5
        got = ort.InferenceSession(args.dest).run(None, {"mels": mels})[0]
        want = numpy_reference(w, mels)
        print(f"max |onnx - numpy| = {np.abs(got - want).max():.2e}")


if __name__ == "__main__":
    main()
