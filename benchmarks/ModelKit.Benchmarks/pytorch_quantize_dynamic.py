#!/usr/bin/python3
"""PyTorch's quantize_dynamic on the same trained MLP weights, for CompressionBenchmarks (Debian python3-torch 1.13).

Usage: pytorch_quantize_dynamic.py DIR   (DIR holds fc1_w.bin [256,784], fc1_b.bin, fc2_w.bin [10,256], fc2_b.bin,
test_x.bin [10000,784] float32 little-endian and test_y.bin int64). Prints one JSON object: sizes, accuracies and
median latencies (seconds) at batch 1 and 64 for fp32 and dynamic int8, one intra-op thread.
"""
import io
import json
import statistics
import sys
import time

import numpy as np
import torch
from torch import nn

directory = sys.argv[1]
load = lambda name, dtype=np.float32: np.fromfile(f"{directory}/{name}", dtype=dtype)
w1, b1, w2, b2 = load("fc1_w.bin"), load("fc1_b.bin"), load("fc2_w.bin"), load("fc2_b.bin")
hidden, classes = b1.size, b2.size
features = w1.size // hidden
x = torch.from_numpy(load("test_x.bin").reshape(-1, features))
y = torch.from_numpy(load("test_y.bin", np.int64))

torch.set_num_threads(1)
torch.backends.quantized.engine = "onednn" if "onednn" in torch.backends.quantized.supported_engines else "qnnpack"
model = nn.Sequential(nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, classes)).eval()
with torch.no_grad():
    model[0].weight.copy_(torch.from_numpy(w1.reshape(hidden, features)))
    model[0].bias.copy_(torch.from_numpy(b1))
    model[2].weight.copy_(torch.from_numpy(w2.reshape(classes, hidden)))
    model[2].bias.copy_(torch.from_numpy(b2))
quantized = torch.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)


def size(m):
    buffer = io.BytesIO()
    torch.save(m.state_dict(), buffer)
    return buffer.tell()


def accuracy(m):
    with torch.inference_mode():
        return (m(x).argmax(1) == y).float().mean().item()


def latency(m, batch, runs):
    inputs = x[:batch].contiguous()
    times = []
    with torch.inference_mode():
        for _ in range(max(20, runs // 10)):
            m(inputs)
        for _ in range(runs):
            start = time.perf_counter()
            m(inputs)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


result = {"engine": torch.backends.quantized.engine, "torch": torch.__version__}
for name, m in (("fp32", model), ("int8", quantized)):
    result[name] = {
        "size_bytes": size(m),
        "accuracy": accuracy(m),
        "latency_batch1_s": latency(m, 1, 3000),
        "latency_batch64_s": latency(m, 64, 1000),
    }
print(json.dumps(result))
