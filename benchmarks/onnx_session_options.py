"""ONNX Runtime session options at batch 1: does any beat the default for ResNet-50 latency?

Exports the bench's ResNet-50 (random weights, BN statistics set as ``resnetlab bench`` does,
BN folded) once, opens one session per option set, and times each alternately with eager fp32
PyTorch in one process; prints latency and the fraction of eager's. The options are the ones
onnxruntime documents for CPU latency: intra-op thread count, dynamic block scheduling, and
whether idle threads spin.

    .venv/bin/python benchmarks/onnx_session_options.py [--model resnet50] [--size 224]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch

from resnetlab.bench.inference import onnx_files
from resnetlab.bench.suite import shared_weights
from resnetlab.bench.timing import alternate

VARIANTS: dict[str, dict[str, str | int]] = {
    "default": {},
    "2 intra-op threads": {"threads": 2},
    "dynamic_block_base 4": {"session.dynamic_block_base": "4"},
    "dynamic_block_base 1": {"session.dynamic_block_base": "1"},
    "no spinning": {"session.intra_op.allow_spinning": "0"},
}


def session(path: Path, settings: dict[str, str | int]):
    """A CPU session of ``path`` with ``settings`` (``threads`` or session config entries)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    for key, value in settings.items():
        if key == "threads":
            options.intra_op_num_threads = int(value)
        else:
            options.add_session_config_entry(key, str(value))
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--min-seconds", type=float, default=1.0)
    args = parser.parse_args()
    baseline, model, label = shared_weights(args.model, args.size, 0)
    image = torch.randn(2, 3, args.size, args.size, generator=torch.Generator().manual_seed(1))
    one = np.ascontiguousarray(image[:1].numpy())
    with tempfile.TemporaryDirectory() as workdir:
        path = onnx_files(model, image, Path(workdir))
        cases = {}
        for name, settings in VARIANTS.items():
            s = session(path, settings)
            feed = {s.get_inputs()[0].name: one}
            cases[name] = lambda s=s, feed=feed: s.run(None, feed)

        def eager():
            with torch.inference_mode():
                return baseline(image[:1])

        cases["eager fp32"] = eager
        seconds = alternate(cases, repeats=args.repeats, min_seconds=args.min_seconds)
    reference = seconds["eager fp32"].median
    print(f"{args.model} at {args.size}, batch 1, {torch.get_num_threads()} torch thread(s); "
          f"baseline: {label}")
    for name, s in seconds.items():
        print(f"{name:22} {1e3 * s.median:7.1f} ms ({1e3 * s.lo:.1f}-{1e3 * s.hi:.1f})  "
              f"{s.median / reference:.2f} of eager")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
