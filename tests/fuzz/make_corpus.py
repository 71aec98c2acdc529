#!/usr/bin/env python3
"""Seed corpora for the libFuzzer targets (tests/fuzz/corpus/<target>/): a few small valid
files of each format, made here so that the fuzzer starts from inputs that pass the magic
numbers and headers. Needs numpy, onnx and Pillow (tests/fixtures' environment).
    python3 tests/fuzz/make_corpus.py"""
import io
import os
import struct

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def npy_bytes(a):
    b = io.BytesIO()
    np.save(b, a)
    return b.getvalue()


def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def field(num, wire, payload):
    key = varint((num << 3) | wire)
    if wire == 2:
        return key + varint(len(payload)) + payload
    return key + payload


def blob(dims, values):
    shape = field(1, 2, b"".join(varint(d) for d in dims))
    return field(7, 2, shape) + field(5, 2, struct.pack("<%df" % len(values), *values))


def caffe_layer(name, blobs):
    return field(100, 2, field(1, 2, name.encode()) + b"".join(field(7, 2, b) for b in blobs))


def main():
    rng = np.random.default_rng(0)
    # .npy
    put("npy", "nchw.npy", npy_bytes(rng.random((1, 3, 4, 4), dtype=np.float32)))
    put("npy", "vec.npy", npy_bytes(np.arange(5, dtype=np.float32)))
    put("npy", "empty.npy", npy_bytes(np.zeros((0, 4), np.float32)))
    put("npy", "f8.npy", npy_bytes(np.zeros((2, 2), np.float64)))
    # images
    from PIL import Image

    for fmt, ext in (("PNG", "png"), ("JPEG", "jpg")):
        b = io.BytesIO()
        Image.fromarray((rng.random((8, 6, 3)) * 255).astype(np.uint8)).save(b, fmt)
        put("image", "rgb." + ext, b.getvalue())
    b = io.BytesIO()
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(b, "PNG")
    put("image", "grey.png", b.getvalue())
    # objectives
    for i, t in enumerate(["inception_4a/output:97", "logit:285", "deepdream(inception_4c/output)",
                           "inception_4a/output:1 - 100*diversity(inception_5a/output)", "-0.25*tv + -0.05*l1",
                           "channel(conv1/7x7_s2, 3) * 2 - (neuron(a, 1, 2, 3))", "interpolate(a,1,b,2)",
                           "direction(a, 1, 2, -3.5)", "blur", "l2(0.5)"]):
        put("objective", "o%d.txt" % i, t)
    # labels
    put("labels", "synset.txt", "n01440764 tench, Tinca tinca\nn01443537 goldfish, Carassius auratus\n")
    put("labels", "plain.txt", "cat\ndog\n")
    # ONNX: a conv, BN, relu, pool, gemm, softmax network
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])
    inits = [numpy_helper.from_array(rng.random(s, dtype=np.float32), n) for n, s in
             [("w", (4, 3, 3, 3)), ("b", (4,)), ("s", (4,)), ("beta", (4,)), ("m", (4,)), ("v", (4,)),
              ("fw", (5, 36)), ("fb", (5,))]]
    inits.append(numpy_helper.from_array(np.array([1, -1], np.int64), "shape"))
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["c", "s", "beta", "m", "v"], ["n"], name="bn"),
             helper.make_node("Relu", ["n"], ["r"], name="relu"),
             helper.make_node("MaxPool", ["r"], ["p"], name="pool", kernel_shape=[3, 3], strides=[3, 3]),
             helper.make_node("Reshape", ["p", "shape"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "fw", "fb"], ["g"], name="fc", transB=1),
             helper.make_node("Softmax", ["g"], ["y"], name="prob")]
    g = helper.make_graph(nodes, "tiny", [x], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    put("onnx", "tiny.onnx", helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString())
    # Caffe prototxt (the architecture caffemodel_fuzz uses, and GoogLeNet-style pieces)
    put("prototxt", "small.prototxt", """
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 2 dim: 4 dim: 4 } } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv" convolution_param { num_output: 2 kernel_size: 3 } }
layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }
layer { name: "pool" type: "Pooling" bottom: "conv" top: "pool" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "norm" type: "LRN" bottom: "pool" top: "norm" lrn_param { local_size: 5 alpha: 0.0001 beta: 0.75 } }
layer { name: "cat" type: "Concat" bottom: "norm" bottom: "pool" top: "cat" }
layer { name: "prob" type: "Softmax" bottom: "cat" top: "prob" }
""")
    put("prototxt", "legacy.prototxt", 'name: "v"\ninput: "data"\ninput_dim: 1\ninput_dim: 3\ninput_dim: 8\ninput_dim: 8\n'
        'layers { name: "relu" type: RELU bottom: "data" top: "data" }\n')
    # .caffemodel for caffemodel_fuzz's architecture
    weights = (caffe_layer("conv", [blob([2, 2, 3, 3], list(rng.random(36))), blob([2], [0.1, 0.2])]) +
               caffe_layer("bn", [blob([2], [1, 2]), blob([2], [3, 4]), blob([1], [2])]) +
               caffe_layer("sc", [blob([2], [1, 1]), blob([2], [0, 0])]) +
               caffe_layer("fc", [blob([3, 8], list(rng.random(24))), blob([3], [0, 0, 0])]))
    put("caffemodel", "small.caffemodel", weights)
    # safetensors
    import json

    def safetensors(tensors):
        header, data = {}, b""
        for name, (dtype, shape, raw) in tensors.items():
            header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
            data += raw
        h = json.dumps(header).encode()
        h += b" " * (-len(h) % 8)
        return struct.pack("<Q", len(h)) + h + data

    put("safetensors", "f32.safetensors", safetensors({"w": ("F32", [2, 3], rng.random(6, dtype=np.float32).tobytes()),
                                                       "e": ("F32", [0], b"")}))
    put("safetensors", "f16.safetensors", safetensors({"h": ("F16", [4], np.arange(4, dtype=np.float16).tobytes()),
                                                       "b": ("BF16", [2], b"\x80\x3f\x00\x40")}))
    # manifest.json of a sweep, as `cuviz sweep` writes it (format cuviz-sweep-1), and the older
    # form with a null objective (a non-finite value written before NaN checks; still resumable)
    settings = {"layer": "conv2/3x3_reduce", "lr": 0.05, "model": "googlenet",
                "model_file": "/x/bvlc_googlenet.caffemodel", "objective": "channel", "param": "fourier",
                "precision": "fp32", "relu_override": 16, "seed": 0, "size": 32, "steps": 2,
                "transforms": "standard"}
    channels = [{"channel": c, "file": "channels/conv2_3x3_reduce_%d.png" % c, "objective": 10.5 + c}
                for c in range(3)]
    manifest = {"channels": channels, "device": "cpu (1 thread)", "format": "cuviz-sweep-1",
                "render_seconds": 0.25, "settings": settings, "total_channels": 64}
    put("manifest", "sweep.json", json.dumps(manifest, indent=2, sort_keys=True))
    manifest["channels"] = [dict(channels[0], objective=None)]
    put("manifest", "null_objective.json", json.dumps(manifest, sort_keys=True))


if __name__ == "__main__":
    main()
