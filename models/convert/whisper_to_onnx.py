#!/usr/bin/env python3
"""Whisper (CTranslate2 `model.bin`) to two ONNX graphs, with numpy and onnx only (no torch).

- encoder: log-mel `mel` [1, 80, 2*T] -> `cross_k` [L, 1, H, Dh, T] (keys, transposed for the
  product) and `cross_v` [L, 1, H, T, Dh], the cross-attention keys and values of every decoder
  layer. T may be anything up to 1500: the clip's own length instead of Whisper's 30 s (like
  whisper.cpp's `audio_ctx`); the positional table is cut to T.
- decoder: `tokens` [1, n] int64, `past_k`/`past_v` [L, 1, H, P, Dh] (self-attention cache of
  the P tokens before; P may be 0), `cross_k`, `cross_v` -> `logits` [1, n, vocab] and
  `present_k`/`present_v` [L, 1, H, P+n, Dh]. Positions are P..P+n, causal within the n.

Weights are fp16 in model.bin; they are written as fp32 (exact), except the token embedding
table, kept fp16 and cast after the lookup (exact too, half the memory). With `--int8`, ONNX
Runtime's dynamic quantisation turns the MatMul weights into INT8 (per-channel off, as measured
in models/README.md).

usage: whisper_to_onnx.py MODEL_BIN OUT.onnx --graph encoder|decoder [--int8]
"""
import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ctranslate2_model  # noqa: E402

OPSET = 17
EPS = 1e-5


class Graph:
    """Collects nodes and initialisers with unique names."""

    def __init__(self, weights: dict):
        self.w = weights
        self.nodes = []
        self.inits = {}
        self.n = 0

    def name(self, base):
        self.n += 1
        return f"{base}_{self.n}"

    def const(self, value, name=None, dtype=np.float32):
        arr = np.asarray(value, dtype=dtype)
        name = name or self.name("c")
        if name not in self.inits:
            self.inits[name] = numpy_helper.from_array(arr, name)
        return name

    def weight(self, key, transpose=False):
        """A model.bin variable as an fp32 initialiser (transposed for MatMul if asked)."""
        name = key.replace("/", ".") + (".T" if transpose else "")
        if name not in self.inits:
            arr = self.w[key].astype(np.float32)
            if transpose:
                arr = np.ascontiguousarray(arr.T)
            self.inits[name] = numpy_helper.from_array(arr, name)
        return name

    def op(self, op_type, inputs, n_out=1, **attrs):
        outs = [self.name(op_type) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, **attrs))
        return outs[0] if n_out == 1 else outs

    def linear(self, x, prefix, rows=None):
        """x @ W^T + b; `rows` selects a slice of the fused weight's output rows."""
        w, b = self.w[prefix + "/weight"], self.w.get(prefix + "/bias")
        if rows is not None:
            key = f"{prefix}[{rows.start}:{rows.stop}]"
            self.w[key + "/weight"] = w[rows]
            if b is not None:
                self.w[key + "/bias"] = b[rows]
            prefix, b = key, (b[rows] if b is not None else None)
        y = self.op("MatMul", [x, self.weight(prefix + "/weight", transpose=True)])
        if b is not None:
            y = self.op("Add", [y, self.weight(prefix + "/bias")])
        return y

    def layer_norm(self, x, prefix):
        return self.op("LayerNormalization",
                       [x, self.weight(prefix + "/gamma"), self.weight(prefix + "/beta")],
                       axis=-1, epsilon=EPS)

    def gelu(self, x):
        """Exact GELU: 0.5 x (1 + erf(x / sqrt 2))."""
        e = self.op("Erf", [self.op("Div", [x, self.const(np.sqrt(2.0))])])
        return self.op("Mul", [self.op("Mul", [x, self.op("Add", [e, self.const(1.0)])]),
                               self.const(0.5)])

    def heads(self, x, n_heads, d_head):
        """[1, n, H*Dh] -> [1, H, n, Dh]."""
        r = self.op("Reshape", [x, self.const([1, -1, n_heads, d_head], dtype=np.int64)])
        return self.op("Transpose", [r], perm=[0, 2, 1, 3])

    def merge(self, x, d_model):
        """[1, H, n, Dh] -> [1, n, H*Dh]."""
        t = self.op("Transpose", [x], perm=[0, 2, 1, 3])
        return self.op("Reshape", [t, self.const([1, -1, d_model], dtype=np.int64)])

    def attend(self, q, k_t, v, mask=None):
        """softmax(q k^T / sqrt(Dh) + mask) v, with k already transposed [.., Dh, T]."""
        s = self.op("MatMul", [q, k_t])
        if mask is not None:
            s = self.op("Add", [s, mask])
        return self.op("MatMul", [self.op("Softmax", [s], axis=-1), v])

    def model(self, inputs, outputs, name):
        g = helper.make_graph(self.nodes, name, inputs, outputs, list(self.inits.values()))
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="clipguard whisper_to_onnx")
        m.ir_version = 8
        return m


def dims(w):
    layers = lambda side: sum(1 for k in w if k.startswith(f"{side}/layer_") and k.endswith("/ffn/linear_0/weight"))
    d_model = w["encoder/conv1/bias"].shape[0]
    heads = int(w["encoder/num_heads"])
    return layers("encoder"), layers("decoder"), d_model, heads, d_model // heads


def encoder(w):
    enc_layers, dec_layers, d, h, dh = dims(w)
    g = Graph(w)
    scale = g.const(dh ** -0.5)
    x = g.op("Conv", ["mel", g.weight("encoder/conv1/weight"), g.weight("encoder/conv1/bias")],
             kernel_shape=[3], pads=[1, 1])
    x = g.gelu(x)
    x = g.op("Conv", [x, g.weight("encoder/conv2/weight"), g.weight("encoder/conv2/bias")],
             kernel_shape=[3], pads=[1, 1], strides=[2])
    x = g.gelu(x)
    x = g.op("Transpose", [x], perm=[0, 2, 1])  # [1, T, D]
    t = g.op("Gather", [g.op("Shape", [x]), g.const(1, dtype=np.int64)])
    t1 = g.op("Unsqueeze", [t, g.const([0], dtype=np.int64)])
    pos = g.op("Slice", [g.weight("encoder/position_encodings/encodings"),
                         g.const([0], dtype=np.int64), t1, g.const([0], dtype=np.int64)])
    x = g.op("Add", [x, pos])
    for i in range(enc_layers):
        p = f"encoder/layer_{i}"
        hn = g.layer_norm(x, p + "/self_attention/layer_norm")
        q = g.heads(g.linear(hn, p + "/self_attention/linear_0", slice(0, d)), h, dh)
        k = g.heads(g.linear(hn, p + "/self_attention/linear_0", slice(d, 2 * d)), h, dh)
        v = g.heads(g.linear(hn, p + "/self_attention/linear_0", slice(2 * d, 3 * d)), h, dh)
        q = g.op("Mul", [q, scale])
        k_t = g.op("Transpose", [k], perm=[0, 1, 3, 2])
        a = g.merge(g.attend(q, k_t, v), d)
        x = g.op("Add", [x, g.linear(a, p + "/self_attention/linear_1")])
        hn = g.layer_norm(x, p + "/ffn/layer_norm")
        f = g.linear(g.gelu(g.linear(hn, p + "/ffn/linear_0")), p + "/ffn/linear_1")
        x = g.op("Add", [x, f])
    x = g.layer_norm(x, "encoder/layer_norm")
    ks, vs = [], []
    zero = g.const([0], dtype=np.int64)
    for i in range(dec_layers):
        p = f"decoder/layer_{i}/attention/linear_1"
        k = g.heads(g.linear(x, p, slice(0, d)), h, dh)
        v = g.heads(g.linear(x, p, slice(d, 2 * d)), h, dh)
        ks.append(g.op("Unsqueeze", [g.op("Transpose", [k], perm=[0, 1, 3, 2]), zero]))
        vs.append(g.op("Unsqueeze", [v, zero]))
    g.nodes.append(helper.make_node("Concat", ks, ["cross_k"], axis=0))
    g.nodes.append(helper.make_node("Concat", vs, ["cross_v"], axis=0))
    f = TensorProto.FLOAT
    return g.model(
        [helper.make_tensor_value_info("mel", f, [1, 80, "frames"])],
        [helper.make_tensor_value_info("cross_k", f, [dec_layers, 1, h, dh, "audio_ctx"]),
         helper.make_tensor_value_info("cross_v", f, [dec_layers, 1, h, "audio_ctx", dh])],
        "whisper_encoder")


def decoder(w):
    _, dec_layers, d, h, dh = dims(w)
    g = Graph(w)
    i64 = lambda v: g.const(v, dtype=np.int64)
    scale = g.const(dh ** -0.5)
    # Token lookup in the fp16 table, then fp32.
    g.inits["decoder.embeddings.fp16"] = numpy_helper.from_array(
        w["decoder/embeddings/weight"].astype(np.float16), "decoder.embeddings.fp16")
    emb = g.op("Cast", [g.op("Gather", ["decoder.embeddings.fp16", "tokens"])], to=TensorProto.FLOAT)
    # Positions P..P+n; the causal mask lets position P+i see 0..P+i.
    past_len = g.op("Gather", [g.op("Shape", ["past_k"]), i64(3)])
    n = g.op("Gather", [g.op("Shape", ["tokens"]), i64(1)])
    total = g.op("Add", [past_len, n])
    rows = g.op("Range", [past_len, total, i64(1)])
    cols = g.op("Range", [i64(0), total, i64(1)])
    pos = g.op("Gather", [g.weight("decoder/position_encodings/encodings"), rows])
    x = g.op("Add", [emb, g.op("Unsqueeze", [pos, i64([0])])])
    future = g.op("Greater", [g.op("Unsqueeze", [cols, i64([0])]), g.op("Unsqueeze", [rows, i64([1])])])
    mask = g.op("Where", [future, g.const(-np.inf), g.const(0.0)])
    present_k, present_v = [], []
    for i in range(dec_layers):
        p = f"decoder/layer_{i}"
        li = i64([i])
        hn = g.layer_norm(x, p + "/self_attention/layer_norm")
        q = g.heads(g.linear(hn, p + "/self_attention/linear_0", slice(0, d)), h, dh)
        k = g.heads(g.linear(hn, p + "/self_attention/linear_0", slice(d, 2 * d)), h, dh)
        v = g.heads(g.linear(hn, p + "/self_attention/linear_0", slice(2 * d, 3 * d)), h, dh)
        pk = g.op("Squeeze", [g.op("Gather", ["past_k", li]), i64([0])])
        pv = g.op("Squeeze", [g.op("Gather", ["past_v", li]), i64([0])])
        k_all = g.op("Concat", [pk, k], axis=2)
        v_all = g.op("Concat", [pv, v], axis=2)
        present_k.append(g.op("Unsqueeze", [k_all, i64([0])]))
        present_v.append(g.op("Unsqueeze", [v_all, i64([0])]))
        q = g.op("Mul", [q, scale])
        a = g.attend(q, g.op("Transpose", [k_all], perm=[0, 1, 3, 2]), v_all, mask)
        x = g.op("Add", [x, g.linear(g.merge(a, d), p + "/self_attention/linear_1")])
        hn = g.layer_norm(x, p + "/attention/layer_norm")
        q = g.op("Mul", [g.heads(g.linear(hn, p + "/attention/linear_0"), h, dh), scale])
        ck = g.op("Squeeze", [g.op("Gather", ["cross_k", li]), i64([0])])
        cv = g.op("Squeeze", [g.op("Gather", ["cross_v", li]), i64([0])])
        a = g.attend(q, ck, cv)
        x = g.op("Add", [x, g.linear(g.merge(a, d), p + "/attention/linear_2")])
        hn = g.layer_norm(x, p + "/ffn/layer_norm")
        f = g.linear(g.gelu(g.linear(hn, p + "/ffn/linear_0")), p + "/ffn/linear_1")
        x = g.op("Add", [x, f])
    x = g.layer_norm(x, "decoder/layer_norm")
    logits = g.op("MatMul", [x, g.weight("decoder/projection/weight", transpose=True)])
    g.nodes.append(helper.make_node("Identity", [logits], ["logits"]))
    g.nodes.append(helper.make_node("Concat", present_k, ["present_k"], axis=0))
    g.nodes.append(helper.make_node("Concat", present_v, ["present_v"], axis=0))
    f = TensorProto.FLOAT
    vocab = w["decoder/embeddings/weight"].shape[0]
    cache = lambda name, length: helper.make_tensor_value_info(name, f, [dec_layers, 1, h, length, dh])
    return g.model(
        [helper.make_tensor_value_info("tokens", TensorProto.INT64, [1, "n"]),
         cache("past_k", "past"), cache("past_v", "past"),
         helper.make_tensor_value_info("cross_k", f, [dec_layers, 1, h, dh, "audio_ctx"]),
         helper.make_tensor_value_info("cross_v", f, [dec_layers, 1, h, "audio_ctx", dh])],
        [helper.make_tensor_value_info("logits", f, [1, "n", vocab]),
         cache("present_k", "total"), cache("present_v", "total")],
        "whisper_decoder")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model_bin", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--graph", choices=["encoder", "decoder"], required=True)
    ap.add_argument("--int8", action="store_true", help="dynamic INT8 quantisation of MatMuls")
    args = ap.parse_args()
    spec, w = ctranslate2_model.read(args.model_bin)
    if spec != "WhisperSpec":
        sys.exit(f"{args.model_bin}: spec {spec!r}, expected WhisperSpec")
    model = encoder(w) if args.graph == "encoder" else decoder(w)
    onnx.checker.check_model(model)
    if not args.int8:
        onnx.save(model, args.out)
        return
    from onnxruntime.quantization import QuantType, quantize_dynamic
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        onnx.save(model, fp32)
        quantize_dynamic(fp32, args.out, weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"])


if __name__ == "__main__":
    main()
