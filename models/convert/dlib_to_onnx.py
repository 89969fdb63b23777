#!/usr/bin/env python3
"""Convert dlib's face recognition ResNet (dlib_face_recognition_resnet_model_v1.dat) to ONNX.

Needs numpy and onnx only. The network type is the one in dlib's
examples/dnn_face_recognition_ex.cpp; the serialisation format is dlib's (dnn/core.h, layers.h,
input.h, loss.h). The parser is strict: every layer found in the file must be the one the
architecture expects, and the whole file must be consumed.

The ONNX graph takes raw RGB pixels (0..255, NCHW float32, 150x150) and does dlib's input
normalisation itself ((pixel - channel mean) / 256), so callers need not know the means.
Output: `embedding`, [batch, 128], not normalised, compared by Euclidean distance.
"""
import argparse
import struct
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class Reader:
    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def byte(self) -> int:
        b = self.data[self.pos]
        self.pos += 1
        return b

    def int(self) -> int:
        """dlib's variable-length integer: a control byte (bit 7 sign, low bits size), then LE bytes."""
        ctrl = self.byte()
        size = ctrl & 0x0F
        if size > 8:
            raise ValueError(f"bad integer control byte {ctrl:#x} at {self.pos - 1}")
        value = int.from_bytes(self.data[self.pos:self.pos + size], "little")
        self.pos += size
        return -value if ctrl & 0x80 else value

    def float(self) -> float:
        """dlib's portable float: integer mantissa, then integer exponent."""
        mantissa = self.int()
        exponent = self.int()
        return float(mantissa) * 2.0 ** exponent

    def string(self) -> str:
        n = self.int()
        s = self.data[self.pos:self.pos + n].decode("ascii")
        self.pos += n
        return s

    def bool(self) -> bool:
        """dlib writes a bool as the character '0' or '1'."""
        c = self.byte()
        if c not in (0x30, 0x31):
            raise ValueError(f"bad bool {c:#x} at {self.pos - 1}")
        return c == 0x31

    def tensor(self) -> np.ndarray:
        version = self.int()
        if version != 2:
            raise ValueError(f"tensor version {version} at {self.pos}")
        shape = [self.int() for _ in range(4)]
        n = int(np.prod(shape))
        arr = np.frombuffer(self.data, dtype="<f4", count=n, offset=self.pos).reshape(shape)
        self.pos += 4 * n
        return arr.astype(np.float32)

    def alias_tensor(self) -> tuple:
        version = self.int()
        if version != 1:
            raise ValueError(f"alias_tensor version {version} at {self.pos}")
        return tuple(self.int() for _ in range(4))

    def expect(self, name: str):
        got = self.string()
        if got != name:
            raise ValueError(f"expected layer {name!r}, found {got!r} at {self.pos}")


def read_details(r: Reader) -> dict:
    """One layer's own settings (everything after its sub-network)."""
    name = r.string()
    if name == "con_4":
        params = r.tensor().ravel()
        num_filters, nr, nc = r.int(), r.int(), r.int()
        stride_y, stride_x, pad_y, pad_x = r.int(), r.int(), r.int(), r.int()
        filters = r.alias_tensor()
        biases = r.alias_tensor()
        for _ in range(4):  # learning-rate and weight-decay multipliers
            r.float()
        nf = int(np.prod(filters))
        return {
            "kind": "con",
            "w": params[:nf].reshape(filters),
            "b": params[nf:nf + int(np.prod(biases))].reshape(num_filters),
            "kernel": (nr, nc), "stride": (stride_y, stride_x), "pad": (pad_y, pad_x),
        }
    if name == "affine_":
        params = r.tensor().ravel()
        gamma = r.alias_tensor()
        r.alias_tensor()
        mode = r.int()
        k = int(np.prod(gamma))
        return {"kind": "affine", "gamma": params[:k], "beta": params[k:2 * k], "mode": mode}
    if name == "relu_":
        return {"kind": "relu"}
    if name in ("max_pool_2", "avg_pool_2"):
        nr, nc, sy, sx, py, px = (r.int() for _ in range(6))
        return {"kind": name[:-2], "kernel": (nr, nc), "stride": (sy, sx), "pad": (py, px)}
    if name == "add_prev_":
        return {"kind": "add_prev"}
    if name == "fc_2":
        num_outputs, num_inputs = r.int(), r.int()
        params = r.tensor()
        r.alias_tensor()
        r.alias_tensor()
        bias_mode = r.int()
        for _ in range(4):
            r.float()
        w = params.ravel()[:num_inputs * num_outputs].reshape(num_inputs, num_outputs)
        return {"kind": "fc", "w": w, "bias_mode": bias_mode}
    raise ValueError(f"unknown layer {name!r} at {r.pos}")


def parse(data: bytes):
    """Return (input settings, layers in input-to-output order, loss settings)."""
    r = Reader(data)
    if r.int() != 1:
        raise ValueError("not a dlib loss layer (version)")
    r.expect("loss_metric_2")
    loss = {"margin": r.float(), "dist_thresh": r.float()}
    # Wrappers nest from the output to the input: add_layer (version 2) carries settings after
    # its sub-network, tag and skip layers (version 1) carry none; the input add_layer is 3.
    wrappers = []
    while True:
        v = r.int()
        if v == 3:
            break
        if v not in (1, 2):
            raise ValueError(f"unexpected wrapper version {v} at {r.pos}")
        wrappers.append(v)
    r.expect("input_rgb_image_sized")
    means = (r.float(), r.float(), r.float())
    size = (r.int(), r.int())
    layers = []

    def trailer():
        for _ in range(3):  # setup called, gradient stale, output disabled
            r.bool()
        for _ in range(3):  # x_grad, cached_output, params_grad / grad_final
            r.tensor()

    layers.append(read_details(r))
    trailer()
    if r.int() != 1:  # the input add_layer also stores its sample expansion factor
        raise ValueError(f"unexpected sample expansion factor at {r.pos}")
    tags = 0
    for v in reversed(wrappers):
        if v == 1:
            tags += 1
            continue
        layers.append(read_details(r))
        trailer()
    if r.pos != len(data):
        raise ValueError(f"{len(data) - r.pos} bytes left over after parsing")
    return {"means": means, "size": size}, layers, loss, tags


# The network of dnn_face_recognition_ex.cpp, input to output, as operations on a tag stack.
def architecture():
    ops = ["con", "affine", "relu", "max_pool"]

    def ares():
        return ["tag1", "con", "affine", "relu", "con", "affine", "add_prev1", "relu"]

    def ares_down():
        return ["tag1", "con", "affine", "relu", "con", "affine", "tag2", "skip1", "avg_pool",
                "add_prev2", "relu"]

    ops += ares() * 3                    # alevel4: 32
    ops += ares_down() + ares() * 3      # alevel3: 64
    ops += ares_down() + ares() * 2      # alevel2: 128
    ops += ares_down() + ares() * 2      # alevel1: 256
    ops += ares_down()                   # alevel0: 256
    ops += ["avg_pool_everything", "fc"]
    return ops


class Graph:
    """ONNX graph under construction. Tracks static shapes (batch 1) so add_prev can pad."""

    def __init__(self, size):
        self.nodes, self.inits, self.weights, self.n = [], [], {}, 0
        self.shapes = {"input": [1, 3, size[0], size[1]]}

    def name(self, prefix):
        self.n += 1
        return f"{prefix}_{self.n}"

    def const(self, prefix, array):
        name = self.name(prefix)
        self.weights[name] = np.asarray(array)
        self.inits.append(numpy_helper.from_array(self.weights[name], name))
        return name

    def node(self, op, inputs, **attrs):
        out = self.name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], **attrs))
        s = list(self.shapes[inputs[0]])
        if op in ("Conv", "MaxPool", "AveragePool"):
            (kh, kw), (sh, sw), pads = attrs["kernel_shape"], attrs["strides"], attrs["pads"]
            if op == "Conv":
                s[1] = self.weights[inputs[1]].shape[0]
            s[2] = (s[2] + 2 * pads[0] - kh) // sh + 1
            s[3] = (s[3] + 2 * pads[1] - kw) // sw + 1
        elif op == "Pad":
            pads = self.weights[inputs[1]]
            s = [d + int(pads[i]) + int(pads[i + 4]) for i, d in enumerate(s)]
        elif op == "Add":
            s = [max(p, q) for p, q in zip(self.shapes[inputs[0]], self.shapes[inputs[1]])]
        elif op == "GlobalAveragePool":
            s = [s[0], s[1], 1, 1]
        elif op == "Flatten":
            s = [s[0], s[1]]
        elif op == "MatMul":
            s = [s[0], self.weights[inputs[1]].shape[1]]
        self.shapes[out] = s
        return out


def build(inp, layers, tags_in_file):
    g = Graph(inp["size"])
    arch = architecture()
    expected_tags = sum(op.startswith(("tag", "skip")) for op in arch)
    if tags_in_file != expected_tags:
        raise ValueError(f"file has {tags_in_file} tag/skip layers, architecture {expected_tags}")
    means = np.array(inp["means"], dtype=np.float32).reshape(1, 3, 1, 1)
    x = g.node("Sub", ["input", g.const("mean", means)])
    x = g.node("Mul", [x, g.const("scale", np.array(1.0 / 256.0, dtype=np.float32))])
    queue = list(layers)
    tags = {}

    def take(kind):
        layer = queue.pop(0)
        if layer["kind"] != kind:
            raise ValueError(f"architecture expects {kind}, file has {layer['kind']}")
        return layer

    i = 0
    while i < len(arch):
        op = arch[i]
        if op == "con":
            c = take("con")
            nxt = arch[i + 1] if i + 1 < len(arch) else None
            w, b = c["w"], c["b"]
            if nxt == "affine":  # fold the affine (batch-norm) into the convolution
                a = take("affine")
                w = w * a["gamma"].reshape(-1, 1, 1, 1)
                b = b * a["gamma"] + a["beta"]
                i += 1
            py, px = c["pad"]
            x = g.node("Conv", [x, g.const("w", w.astype(np.float32)), g.const("b", b.astype(np.float32))],
                       kernel_shape=list(c["kernel"]), strides=list(c["stride"]),
                       pads=[py, px, py, px])
        elif op == "relu":
            take("relu")
            x = g.node("Relu", [x])
        elif op in ("max_pool", "avg_pool"):
            p = take(op)
            py, px = p["pad"]
            onnx_op = "MaxPool" if op == "max_pool" else "AveragePool"
            x = g.node(onnx_op, [x], kernel_shape=list(p["kernel"]), strides=list(p["stride"]),
                       pads=[py, px, py, px])
        elif op.startswith("tag"):
            tags[op] = x
        elif op.startswith("skip"):
            x = tags["tag" + op[4:]]
        elif op.startswith("add_prev"):
            take("add_prev")
            other = tags["tag" + op[8:]]
            x = add_zero_padded(g, x, other)
        elif op == "avg_pool_everything":
            p = take("avg_pool")
            if p["kernel"] != (0, 0):
                raise ValueError("expected avg_pool_everything")
            x = g.node("GlobalAveragePool", [x])
            x = g.node("Flatten", [x], axis=1)
        elif op == "fc":
            f = take("fc")
            x = g.node("MatMul", [x, g.const("fc", f["w"].astype(np.float32))])
        else:
            raise ValueError(op)
        i += 1
    if queue:
        raise ValueError(f"{len(queue)} layers in the file are not in the architecture")
    g.nodes[-1].output[0] = "embedding"
    graph = helper.make_graph(
        g.nodes, "dlib_face_recognition_resnet_model_v1",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 150, 150])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", 128])],
        g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="clipguard-dlib-converter")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def add_zero_padded(g, a, b):
    """dlib's add_prev: the output takes the larger size on every axis; the smaller operand is
    padded with zeros at the end of the channel, row and column axes. Shapes are static
    (150x150 input), so the pads are computed here once."""
    sa, sb = g.shapes[a], g.shapes[b]
    out = [max(p, q) for p, q in zip(sa, sb)]

    def pad(name, s):
        if list(s) == out:
            return name
        pads = [0, 0, 0, 0, 0, out[1] - s[1], out[2] - s[2], out[3] - s[3]]
        return g.node("Pad", [name, g.const("pads", np.array(pads, dtype=np.int64))])

    return g.node("Add", [pad(a, sa), pad(b, sb)])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dat", help="dlib_face_recognition_resnet_model_v1.dat")
    ap.add_argument("onnx", help="output .onnx path")
    args = ap.parse_args()
    with open(args.dat, "rb") as f:
        data = f.read()
    inp, layers, loss, tags = parse(data)
    size = inp["size"]
    model = build(inp, layers, tags)
    n_conv = sum(1 for l in layers if l["kind"] == "con")
    n_params = sum(l[k].size for l in layers for k in ("w", "b", "gamma", "beta") if k in l)
    onnx.save(model, args.onnx)
    print(f"converted {len(data)} bytes: {n_conv} conv layers, {n_params} parameters, "
          f"input {size}, means {tuple(round(m, 3) for m in inp['means'])}, "
          f"loss margin {loss['margin']:.3f} threshold {loss['dist_thresh']:.3f}", file=sys.stderr)


if __name__ == "__main__":
    main()
