"""What the benchmark runs on: CPU model and instruction sets, threads, compiler, GPU.

Speed figures mean little without the machine beside them, and several choices depend on it:
bf16 autocast only pays on CPUs with native bf16 arithmetic (AVX512-BF16 or AMX), and
``torch.compile``'s CPU backend needs a C++ compiler. The instruction sets are read from
``/proc/cpuinfo`` (what the operating system exposes, which in a VM can be less than the chip
has), not from the CPU's marketing name.
"""

from __future__ import annotations

import datetime
import os
import platform
from dataclasses import asdict, dataclass
from typing import Any

import torch

from resnetlab.hardware import cpuinfo, cxx_compiler, has_native_bf16

# Flags worth showing: they decide which kernels oneDNN, MKL and onnxruntime can use.
_INTERESTING_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16",
                      "amx_tile", "amx_bf16", "amx_int8")


@dataclass(frozen=True)
class Machine:
    """A description of the machine and software a benchmark ran on."""

    cpu: str
    cores: int
    torch_threads: int
    cpu_flags: tuple[str, ...]
    torch_cpu_capability: str
    native_bf16: bool
    int8_dot_product: bool
    cxx_compiler: str | None
    gpu: str | None
    omp_wait_policy: str | None
    load_average: float | None
    torch: str
    onnxruntime: str | None
    python: str
    date: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return asdict(self)

    def one_line(self) -> str:
        """``AMD EPYC, 2 cores (avx2 fma), torch 2.x, no GPU`` and so on."""
        flags = " ".join(self.cpu_flags) or "no vector flags read"
        gpu = self.gpu or "no GPU"
        return (f"{self.cpu}, {self.cores} cores ({flags}), {self.torch_threads} torch threads, "
                f"torch {self.torch}, {gpu}")


def detect() -> Machine:
    """Describe the current machine (``load_average``: runnable processes over the last
    minute; above ``cores`` other work competes with the benchmark)."""
    name, flags = cpuinfo()
    try:
        import onnxruntime

        ort_version: str | None = onnxruntime.__version__
    except ImportError:
        ort_version = None
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return Machine(
        cpu=name,
        cores=os.cpu_count() or 1,
        torch_threads=torch.get_num_threads(),
        cpu_flags=tuple(f for f in _INTERESTING_FLAGS if f in flags),
        torch_cpu_capability=torch.backends.cpu.get_cpu_capability(),
        native_bf16=has_native_bf16(flags),
        int8_dot_product=bool({"avx512_vnni", "avx_vnni", "amx_int8"} & flags),
        cxx_compiler=cxx_compiler(),
        gpu=gpu,
        omp_wait_policy=os.environ.get("OMP_WAIT_POLICY"),
        load_average=os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        torch=torch.__version__,
        onnxruntime=ort_version,
        python=platform.python_version(),
        date=datetime.date.today().isoformat(),
    )
