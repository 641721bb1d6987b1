"""int8 versions of a bundle's ONNX graphs, written with the onnx Python API (Debian has no
onnxruntime for Python, so this does what onnxruntime.quantization would, for the two patterns
that pay off on a CPU; measured with onnxruntime-node 1.30, 1 thread, AVX-512 VNNI):

- MatMul with a constant 2-D weight B [K, N] -> com.microsoft DynamicQuantizeMatMul: B is stored
  int8 per output column (symmetric, scale max|B[:, n]| / 127), the activation A is quantized to
  uint8 per call (its own min/max), int32 accumulation, float out. No calibration: this is the
  transformer (HuBERT/ContentVec encoder) path.
- Conv (group 1) with a constant weight -> QDQ: QuantizeLinear/DequantizeLinear on the input and
  the output with calibrated ranges, DequantizeLinear on an int8 per-output-channel weight and an
  int32 bias. onnxruntime fuses DQ -> Conv -> Q into QLinearConv (uint8 x int8 with VNNI): a
  128-channel k7 conv over 16 k samples takes 9 ms instead of 47 ms in float; the dynamic
  alternative (ConvInteger) is slower than float (65 ms). Static ranges need calibration: the
  caller gives per-node {input: [min, max], output: [min, max]} (see calibrate_convs).

Weights computed in the graph (weight_norm exports g * v / ||v|| without constant folding, as
upstream does) are folded here with numpy first, so upstream-style exports quantize too. Nodes
whose weight is not constant, and grouped/depthwise convs, stay float.

`python -m svc_py.quantize --in G.onnx --out G.int8.onnx [--ranges ranges.json] [--deterministic-source]`
"""
import argparse
import json
import time

import numpy as np

from .events import SvcPyError, run_main

MS_DOMAIN = "com.microsoft"


class Graph:
    """Name-indexed view of a GraphProto for rewriting: producers, consumers, constants."""

    def __init__(self, model):
        from onnx import numpy_helper
        self.model = model
        self.graph = model.graph
        self.initializers = {i.name: i for i in self.graph.initializer}
        self.producer = {}
        for node in self.graph.node:
            for out in node.output:
                self.producer[out] = node
        self._numpy = numpy_helper
        self._cache = {}
        self._counter = 0

    def fresh(self, base):
        self._counter += 1
        return f"{base}__q{self._counter}"

    def add_initializer(self, array, name):
        tensor = self._numpy.from_array(np.ascontiguousarray(array), name)
        self.graph.initializer.append(tensor)
        self.initializers[name] = tensor
        return name

    def constant(self, name, depth=0):
        """The value of tensor `name` when it depends only on initializers and Constant nodes
        through the few ops weight_norm exports use; None otherwise."""
        if name in self._cache:
            return self._cache[name]
        value = None
        if name in self.initializers:
            value = self._numpy.to_array(self.initializers[name])
        elif name in self.producer and depth < 64:
            value = self._evaluate(self.producer[name], name, depth)
        self._cache[name] = value
        return value

    def _evaluate(self, node, wanted, depth):
        from onnx import helper
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        op = node.op_type
        if op == "Constant":
            return self._numpy.to_array(attrs["value"]) if "value" in attrs else None
        inputs = [self.constant(i, depth + 1) if i else None for i in node.input]
        if any(v is None for v, name in zip(inputs, node.input) if name):
            return None
        if len(node.output) != 1:
            return None
        a = inputs[0] if inputs else None
        if op == "Identity":
            return a
        if op in ("Add", "Sub", "Mul", "Div", "Pow"):
            b = inputs[1]
            result = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide, "Pow": np.power}[op](a, b)
            return result.astype(a.dtype) if a.dtype.kind == "f" else result
        if op == "Sqrt":
            return np.sqrt(a)
        if op == "ReduceL2":
            axes = attrs.get("axes")
            axes = tuple(axes) if axes is not None else (tuple(inputs[1].tolist()) if len(inputs) > 1 and inputs[1] is not None else None)
            return np.sqrt(np.sum(np.square(a, dtype=np.float64), axis=axes, keepdims=bool(attrs.get("keepdims", 1)))).astype(a.dtype)
        if op == "Unsqueeze":
            out = a
            for axis in sorted(int(x) for x in inputs[1].tolist()):
                out = np.expand_dims(out, axis)
            return out
        if op == "Squeeze":
            return np.squeeze(a, axis=tuple(int(x) for x in inputs[1].tolist())) if len(inputs) > 1 else np.squeeze(a)
        if op == "Reshape":
            shape = [int(s) for s in inputs[1].tolist()]
            shape = [a.shape[i] if s == 0 else s for i, s in enumerate(shape)]
            return a.reshape(shape)
        if op == "Transpose":
            return np.transpose(a, attrs.get("perm"))
        return None

    def consumers(self):
        users = {}
        for node in self.graph.node:
            for name in node.input:
                users.setdefault(name, []).append(node)
        return users

    def prune(self):
        """Removes nodes and initializers nothing reaches from the graph outputs."""
        needed = {o.name for o in self.graph.output}
        keep = []
        for node in reversed(list(self.graph.node)):
            if any(out in needed for out in node.output):
                keep.append(node)
                needed.update(i for i in node.input if i)
        keep.reverse()
        del self.graph.node[:]
        self.graph.node.extend(keep)
        used = [i for i in self.graph.initializer if i.name in needed]
        del self.graph.initializer[:]
        self.graph.initializer.extend(used)


def symmetric_int8(weight, axis):
    """Per-slice symmetric int8 along `axis`: (int8 values, float32 scales)."""
    moved = np.moveaxis(weight.astype(np.float32), axis, 0)
    bound = np.abs(moved.reshape(moved.shape[0], -1)).max(axis=1)
    scale = np.where(bound > 0, bound / 127.0, 1.0).astype(np.float32)
    q = np.clip(np.round(moved / scale.reshape((-1,) + (1,) * (moved.ndim - 1))), -127, 127).astype(np.int8)
    return np.moveaxis(q, 0, axis), scale


def activation_uint8(low, high):
    """Asymmetric uint8 scale and zero point covering [low, high] (always including 0)."""
    low, high = min(0.0, float(low)), max(0.0, float(high))
    scale = (high - low) / 255.0 if high > low else 1.0
    zero = int(np.clip(round(-low / scale), 0, 255))
    return np.float32(scale), np.uint8(zero)


def quantize_matmuls(g):
    """MatMul(A, const B[K, N]) -> DynamicQuantizeMatMul. Returns how many were rewritten."""
    from onnx import helper
    count = 0
    nodes = []
    for node in g.graph.node:
        weight = g.constant(node.input[1]) if node.op_type == "MatMul" else None
        if weight is None or weight.ndim != 2 or weight.dtype != np.float32 or min(weight.shape) < 16:
            nodes.append(node)
            continue
        q, scale = symmetric_int8(weight, axis=1)
        base = g.fresh(node.name or node.output[0])
        inputs = [node.input[0], g.add_initializer(q, base + "_B"), g.add_initializer(scale, base + "_scale"),
                  g.add_initializer(np.zeros(scale.shape, np.int8), base + "_zero")]
        nodes.append(helper.make_node("DynamicQuantizeMatMul", inputs, list(node.output), name=base, domain=MS_DOMAIN))
        count += 1
    del g.graph.node[:]
    g.graph.node.extend(nodes)
    return count


def quantize_convs(g, ranges, margin=1.0):
    """Conv nodes named in `ranges` ({name: {input: [lo, hi], output: [lo, hi]}}) with a constant
    group-1 weight -> QDQ around a float Conv (fused to QLinearConv by onnxruntime)."""
    from onnx import helper
    count = 0
    nodes = []
    for node in g.graph.node:
        spec = ranges.get(node.name) if node.op_type == "Conv" else None
        weight = g.constant(node.input[1]) if spec else None
        group = next((a.i for a in node.attribute if a.name == "group"), 1)
        if weight is None or group != 1 or weight.dtype != np.float32:
            nodes.append(node)
            continue
        bias = g.constant(node.input[2]) if len(node.input) > 2 and node.input[2] else np.zeros(weight.shape[0], np.float32)
        if bias is None:
            nodes.append(node)
            continue
        base = g.fresh(node.name)
        x_scale, x_zero = activation_uint8(*(margin * np.asarray(spec["input"])))
        y_scale, y_zero = activation_uint8(*(margin * np.asarray(spec["output"])))
        wq, w_scale = symmetric_int8(weight, axis=0)
        bias_q = np.round(bias / (x_scale * w_scale)).astype(np.int32)
        xs, xz = g.add_initializer(np.array(x_scale), base + "_xs"), g.add_initializer(np.array(x_zero), base + "_xz")
        ys, yz = g.add_initializer(np.array(y_scale), base + "_ys"), g.add_initializer(np.array(y_zero), base + "_yz")
        nodes += [
            helper.make_node("QuantizeLinear", [node.input[0], xs, xz], [base + "_xq"]),
            helper.make_node("DequantizeLinear", [base + "_xq", xs, xz], [base + "_x"]),
            helper.make_node("DequantizeLinear", [g.add_initializer(wq, base + "_wq"), g.add_initializer(w_scale, base + "_ws"),
                                                  g.add_initializer(np.zeros(w_scale.shape, np.int8), base + "_wz")], [base + "_w"], axis=0),
            helper.make_node("DequantizeLinear", [g.add_initializer(bias_q, base + "_bq"), g.add_initializer((x_scale * w_scale).astype(np.float32), base + "_bs"),
                                                  g.add_initializer(np.zeros(w_scale.shape, np.int32), base + "_bz")], [base + "_b"], axis=0),
            helper.make_node("Conv", [base + "_x", base + "_w", base + "_b"], [base + "_y"], name=node.name,
                             **{a.name: helper.get_attribute_value(a) for a in node.attribute}),
            helper.make_node("QuantizeLinear", [base + "_y", ys, yz], [base + "_yq"]),
            helper.make_node("DequantizeLinear", [base + "_yq", ys, yz], list(node.output)),
        ]
        count += 1
    del g.graph.node[:]
    g.graph.node.extend(nodes)
    return count


def calibrate_convs(module, batches, prefix=""):
    """Runs `module` on each tuple of tensors in `batches` and records every nn.Conv1d's input and
    output range, keyed by the ONNX node name torch.onnx gives it ('/dec/resblocks.0/convs1.0/Conv'
    for module path dec.resblocks.0.convs1.0 under the exported wrapper; `prefix` is the wrapper's
    attribute path to strip, e.g. 'net.')."""
    import torch
    ranges = {}
    hooks = []

    def hook(name):
        def record(_module, inputs, output):
            # torch names a module's node /a/b.0/c/Conv: dots between a list attribute and its index stay.
            node = _onnx_scope(name[len(prefix):] if name.startswith(prefix) else name) + "/Conv"
            entry = ranges.setdefault(node, {"input": [0.0, 0.0], "output": [0.0, 0.0]})
            for side, tensor in (("input", inputs[0]), ("output", output)):
                entry[side][0] = min(entry[side][0], float(tensor.min()))
                entry[side][1] = max(entry[side][1], float(tensor.max()))
        return record

    for name, sub in module.named_modules():
        if isinstance(sub, torch.nn.Conv1d) and not isinstance(sub, torch.nn.ConvTranspose1d):
            hooks.append(sub.register_forward_hook(hook(name)))
    try:
        with torch.no_grad():
            for batch in batches:
                module(*batch)
    finally:
        for h in hooks:
            h.remove()
    return ranges


def _onnx_scope(path):
    """Module path 'dec.resblocks.0.convs1.0' -> torch.onnx scope '/dec/resblocks.0/convs1.0'
    (a numeric part joins the name before it)."""
    parts = []
    for part in path.split("."):
        if part.isdigit() and parts:
            parts[-1] += "." + part
        else:
            parts.append(part)
    return "/" + "/".join(parts)


def make_source_deterministic(g):
    """Replaces RandomUniformLike/RandomNormalLike with zeros of the same shape (for measuring one
    graph against another: the NSF source then has no random phase or noise, as set_deterministic_source).
    svc's hashed source (sovits/nsf_hifigan.py hashed_normal) has no random op: its Box-Muller Cos in the
    source's scope becomes zeros, which zeroes the noise (its overtones already start at phase 0)."""
    from onnx import helper
    count = 0
    nodes = []
    for node in g.graph.node:
        hashed_noise = node.op_type == "Cos" and "/m_source/l_sin_gen/" in node.name
        if node.op_type in ("RandomUniformLike", "RandomNormalLike") or hashed_noise:
            nodes.append(helper.make_node("Sub", [node.input[0], node.input[0]], list(node.output), name=node.name + "_zero"))
            count += 1
        else:
            nodes.append(node)
    del g.graph.node[:]
    g.graph.node.extend(nodes)
    return count


def quantize_file(src, dst, ranges=None, deterministic_source=False, matmuls=True):
    """Writes the int8 graph of `src` to `dst`; returns counts and sizes."""
    import os

    import onnx
    started = time.time()
    try:
        model = onnx.load(src)
    except Exception as error:
        raise SvcPyError("MODEL_INVALID", f"{src} is not an ONNX model ({str(error)[:120]})", "pass an .onnx file")
    g = Graph(model)
    counts = {"matmul": quantize_matmuls(g) if matmuls else 0, "conv": quantize_convs(g, ranges or {})}
    if deterministic_source:
        counts["deterministic"] = make_source_deterministic(g)
    g.prune()
    if not any(o.domain == MS_DOMAIN for o in model.opset_import):
        model.opset_import.append(onnx.helper.make_opsetid(MS_DOMAIN, 1))
    onnx.save(model, dst)
    return {**counts, "bytes_in": os.path.getsize(src), "bytes_out": os.path.getsize(dst), "seconds": time.time() - started}


INT8_GENERATOR = "generator.int8.onnx"
INT8_ENCODER = "encoder.int8.onnx"
# Models below this many inference parameters stay float only: their graphs are too small for int8 to
# pay for its quantize/dequantize steps (the same bound src/models/sovits.ts uses for one thread).
INT8_MIN_PARAMETERS = 2_000_000


def generator_conv_ranges(net, seeds=6, frames=60):
    """Calibrated ranges of the NSF-HiFiGAN decoder's convs, on upstream-style example inputs (random
    content rows, a voiced glide with an unvoiced stretch). The last upsampling stage (the 16-channel
    resblocks at the output rate, its noise conv, conv_post) stays float: it is ~5 % of the work and
    its quantization noise lands on the output unfiltered (measured on the standard reference with
    real-speech features: all convs int8 31.7 dB SNR against float, last stage float 42.0 dB)."""
    from .sovits.export import OnnxSynthesizer, example_inputs, input_spec
    wrapper = OnnxSynthesizer(net).eval()
    names = [spec["name"] for spec in input_spec(net)]
    batches = []
    for seed in range(seeds):
        inputs = example_inputs(net, frames=frames, seed=seed)
        batches.append(tuple(inputs[n] for n in names))
    ranges = calibrate_convs(wrapper, batches, prefix="net.")
    dec = net.dec
    last = len(dec.ups) - 1
    float_nodes = {"/dec/conv_post/Conv", f"/dec/noise_convs.{last}/Conv"}
    float_prefixes = tuple(f"/dec/resblocks.{i}/" for i in range(last * dec.num_kernels, (last + 1) * dec.num_kernels))
    return {name: r for name, r in ranges.items()
            if name.startswith("/dec/") and name not in float_nodes and not name.startswith(float_prefixes)}


def write_int8(out_dir, net, generator_info, encoder_file=None):
    """Writes generator.int8.onnx (and encoder.int8.onnx when the bundle has an encoder) next to the
    float graphs; returns the manifest's `int8` entry, or None for small models."""
    import os
    from .events import progress
    from .sovits.models import inference_parameters
    if inference_parameters(net) < INT8_MIN_PARAMETERS:
        return None
    started = time.time()
    generator = quantize_file(os.path.join(out_dir, generator_info.get("file", "generator.onnx")), os.path.join(out_dir, INT8_GENERATOR),
                              generator_conv_ranges(net), matmuls=False)
    entry = {"generator": INT8_GENERATOR, "encoder": None,
             "method": "generator: static QDQ int8 convs (per-channel weights, calibrated uint8 activations), last stage float; "
                       "encoder: DynamicQuantizeMatMul (per-column int8 weights)",
             "nodes": {"generator_conv": generator["conv"]}}
    if encoder_file:
        path = os.path.join(out_dir, INT8_ENCODER)
        encoder = quantize_file(os.path.join(out_dir, encoder_file), path)
        if encoder["matmul"]:
            entry["encoder"] = INT8_ENCODER
            entry["nodes"]["encoder_matmul"] = encoder["matmul"]
        else:  # no constant-weight MatMul (a conv encoder): the float encoder serves both precisions
            os.remove(path)
    entry["seconds"] = round(time.time() - started, 1)
    progress(f"int8 graphs written in {entry['seconds']:.1f} s ({entry['nodes']})")
    return entry


def main():
    parser = argparse.ArgumentParser(prog="svc_py.quantize")
    parser.add_argument("--in", dest="src", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--ranges", help="JSON {conv node name: {input: [lo, hi], output: [lo, hi]}}")
    parser.add_argument("--no-matmul", action="store_true")
    parser.add_argument("--deterministic-source", action="store_true")
    args = parser.parse_args()
    ranges = None
    if args.ranges:
        with open(args.ranges, encoding="utf-8") as handle:
            ranges = json.load(handle)
    return quantize_file(args.src, args.out, ranges, args.deterministic_source, not args.no_matmul)


if __name__ == "__main__":
    raise SystemExit(run_main(main))
