"""Reads IlgpuStyle's `.ilgw` VGG19 weights (format: weights/README.md, version 1) with numpy alone.

    python3 bench/gpu/ilgw.py weights/vgg19.ilgw      # prints the header summary, verifies the checksum

`read(path)` returns (tensors, header): tensors maps "convB_N.weight" (OIHW float32) and "convB_N.bias" to numpy
arrays; header is the parsed JSON header (its "preprocessing" says how the network expects its input).
`random_vgg19(seed)` gives weights of the same shapes (He-uniform, like `ilgpu-style bench --weights random`, though
not the same values) with torchvision preprocessing.
"""

import hashlib
import json
import struct
import sys

import numpy as np

# VGG19 to conv5_4: (name, Cin, Cout); pooling after conv1_2, conv2_2, conv3_4, conv4_4 (src/Network/Weights/Vgg19Layout.cs).
VGG19_CONVS = [
    ("conv1_1", 3, 64), ("conv1_2", 64, 64),
    ("conv2_1", 64, 128), ("conv2_2", 128, 128),
    ("conv3_1", 128, 256), ("conv3_2", 256, 256), ("conv3_3", 256, 256), ("conv3_4", 256, 256),
    ("conv4_1", 256, 512), ("conv4_2", 512, 512), ("conv4_3", 512, 512), ("conv4_4", 512, 512),
    ("conv5_1", 512, 512), ("conv5_2", 512, 512), ("conv5_3", 512, 512), ("conv5_4", 512, 512),
]
POOL_AFTER = {"conv1_2", "conv2_2", "conv3_4", "conv4_4"}

TORCHVISION_PREPROCESSING = {"channelOrder": "RGB", "inputScale": 1,
                             "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}


class IlgwError(Exception):
    pass


def read(path, verify=True):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 12 or data[:4] != b"ILGW":
        raise IlgwError(f"{path}: not an .ilgw file (magic)")
    version, header_length = struct.unpack_from("<II", data, 4)
    if version != 1:
        raise IlgwError(f"{path}: unsupported format version {version}")
    if 12 + header_length > len(data):
        raise IlgwError(f"{path}: truncated header")
    header = json.loads(data[12:12 + header_length].decode("utf-8"))
    start = (12 + header_length + 63) // 64 * 64
    payload_length = header["payloadLength"]
    if start + payload_length != len(data):
        raise IlgwError(f"{path}: file is {len(data)} bytes, header says {start + payload_length}")
    payload = memoryview(data)[start:start + payload_length]
    if verify and hashlib.sha256(payload).hexdigest() != header["sha256"].lower():
        raise IlgwError(f"{path}: checksum mismatch")
    tensors = {}
    for t in header["tensors"]:
        dtype = {"f32": "<f4", "f16": "<f2"}.get(t["dtype"])
        if dtype is None:
            raise IlgwError(f"{path}: {t['name']}: unknown dtype {t['dtype']}")
        count = int(np.prod(t["shape"]))
        if count * np.dtype(dtype).itemsize != t["length"] or t["offset"] + t["length"] > payload_length:
            raise IlgwError(f"{path}: {t['name']}: bad length or offset")
        a = np.frombuffer(payload, dtype=dtype, count=count, offset=t["offset"])
        tensors[t["name"]] = a.astype(np.float32).reshape(t["shape"])
    for name, cin, cout in VGG19_CONVS:
        w, b = tensors.get(name + ".weight"), tensors.get(name + ".bias")
        if w is None or b is None or w.shape != (cout, cin, 3, 3) or b.shape != (cout,):
            raise IlgwError(f"{path}: {name} missing or of the wrong shape")
    return tensors, header


def random_vgg19(seed=19):
    rng = np.random.default_rng(seed)
    tensors = {}
    for name, cin, cout in VGG19_CONVS:
        r = np.sqrt(6.0 / (9 * cin))
        tensors[name + ".weight"] = rng.uniform(-r, r, (cout, cin, 3, 3)).astype(np.float32)
        tensors[name + ".bias"] = rng.uniform(-0.05, 0.05, (cout,)).astype(np.float32)
    header = {"preprocessing": TORCHVISION_PREPROCESSING, "convertedFrom": f"random VGG19-shaped (seed {seed})"}
    return tensors, header


def load(spec, seed=19):
    """(tensors, header, description, real) for a path or the word 'random'."""
    if spec == "random":
        t, h = random_vgg19(seed)
        return t, h, f"random VGG19-shaped (numpy seed {seed}; --weights random)", False
    t, h = read(spec)
    p = h["preprocessing"]
    return t, h, f"real: {spec} ({p['channelOrder']}, input scale {p['inputScale']})", True


if __name__ == "__main__":
    tensors, header = read(sys.argv[1])
    print("preprocessing:", json.dumps(header["preprocessing"]))
    print("convertedFrom:", header.get("convertedFrom", ""))
    for name, _, _ in VGG19_CONVS:
        w = tensors[name + ".weight"]
        print(f"{name}: {w.shape} |w|max {np.abs(w).max():.4g}  bias[0:2] {tensors[name + '.bias'][:2]}")
    print("checksum ok")
