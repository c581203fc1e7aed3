"""The embedded encoder on ONNX Runtime: the inference path where users feel the speed.

`OPINION_RUNTIME` picks what runs the embedded model's encoder at inference:

- `onnx-int8` (default): the encoder exported to ONNX, its matrix weights quantised to
  int8 per output channel (activations quantised per call: dynamic quantisation), run one
  row per call so that a post's reading never depends on the posts batched beside it.
  About torch bf16's speed here with ~225 MB less peak memory; accuracy within 0.5 point
  of torch on the issue's dev checks (`data/models/absa-minilm/MODEL_CARD.md`, "Runtime").
- `onnx`: the same export in fp32 (numerically torch fp32 up to ~1e-5).
- `torch`: the PyTorch module in the dtype of `backbone.device_and_dtype` (bf16 where the CPU
  has it). Always the training path, and the fallback when onnxruntime is missing or the
  export fails (one warning line, then torch). On CUDA torch is used whatever the setting.

Only the encoder moves: `OrtEncoder` replaces `JointAbsaModel.encoder` and returns an object
with `.last_hidden_state` (a torch tensor over ORT's output buffer), so the heads stay the
same torch code for every runtime.

The exported files are cached under `$OPINION_CACHE_DIR/onnx` (default
`~/.cache/opinion/onnx/`), named by the encoder's digest (`registry.encoder_digest`: a new
encoder gets new files, a refit post head does not) and the variant. They are written to a
temporary file and renamed, so parallel processes (Airflow workers) never read half a file;
a file that ORT cannot load is exported again.
"""

from __future__ import annotations

import copy
import functools
import logging
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

RUNTIMES = ("torch", "onnx", "onnx-int8")
# rows x tokens x tokens per encoder call: ORT materialises the attention scores (rows x 12
# heads x tokens^2 floats: 200 MB for 64 windows of 256 tokens), so a batch of long rows runs
# in slices of this many cells (4 rows of 256 tokens, 16 of 128, 64 of 64). Measured on 200
# reviews, int8: peak RSS 1.91 GB unsliced, 1.34 GB at 64x128^2, 0.89 GB here, no slower.
ATTENTION_CELLS = 16 * 128 * 128
DEFAULT_RUNTIME = "onnx-int8"
OPSET = 17
# the export variant's settings, part of the cached file's name (bump when they change)
EXPORT_TAG = "v1"


def runtime_choice(value: str | None = None) -> str:
    """`OPINION_RUNTIME` (or `value`), checked: torch, onnx or onnx-int8 (default onnx-int8)."""
    raw = os.environ.get("OPINION_RUNTIME", "") if value is None else value
    choice = raw.strip().lower() or DEFAULT_RUNTIME
    if choice not in RUNTIMES:
        raise ValueError(f"OPINION_RUNTIME must be torch, onnx or onnx-int8, not {raw!r}")
    return choice


def cache_dir() -> Path:
    """Where exported encoders are kept: `$OPINION_CACHE_DIR/onnx`, else `~/.cache/opinion/onnx`."""
    root = os.environ.get("OPINION_CACHE_DIR")
    base = Path(root) if root else Path.home() / ".cache" / "opinion"
    return base / "onnx"


def threads() -> int:
    """Intra-op threads, as for torch: OPINION_THREADS, default all cores."""
    return int(os.environ.get("OPINION_THREADS", "0") or 0) or os.cpu_count() or 1


@dataclass
class EncoderOutput:
    last_hidden_state: object


def _wrapper(encoder):
    import torch

    class _Encoder(torch.nn.Module):
        def __init__(self, enc):
            super().__init__()
            self.enc = enc

        def forward(self, input_ids, attention_mask):
            return self.enc(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    return _Encoder(encoder)


def export_graph(encoder, path: Path) -> None:
    """The encoder in fp32 as ONNX (dynamic batch and sequence axes) at `path`, as traced.
    A copy is traced: tracing leaves the traced module unfit for eager use afterwards."""
    import torch

    model = _wrapper(copy.deepcopy(encoder).float().eval())
    ids = torch.tensor([[101, 2023, 2003, 1037, 3231, 102], [101, 2307, 2326, 102, 0, 0]])
    mask = (ids != 0).long()
    axes = {0: "batch", 1: "sequence"}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarnings: the traced shapes are dynamic axes
        torch.onnx.export(
            model,
            (ids, mask),
            str(path),
            dynamo=False,
            input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes},
            opset_version=OPSET,
            do_constant_folding=True,
        )


def build(encoder, runtime: str, path: Path, **int8_options) -> None:
    """Export the encoder for `runtime` (onnx: fp32 as traced; onnx-int8: dynamic int8
    weights) to `path`, atomically (a temporary file beside it, checked, renamed). ORT fuses
    LayerNorm, GELU and the bias adds itself when it loads the file; the offline BERT
    optimiser (onnxruntime.transformers) finds no attention to fuse in this graph and was no
    faster (MODEL_CARD.md, "Runtime")."""
    with _tmp_beside(path) as raw, _tmp_beside(path) as tmp:
        export_graph(encoder, raw)
        if runtime == "onnx":
            os.replace(raw, tmp)
        else:
            quantise_int8(raw, tmp, **int8_options)
        _check_loads(tmp)
        os.replace(tmp, path)


def quantise_int8(
    source: Path,
    target: Path,
    per_channel: bool = True,
    reduce_range: bool = False,
    op_types: tuple[str, ...] = ("MatMul",),
) -> None:
    """Dynamic int8 (QInt8 weights; activations quantised per batch) of an fp32 export.
    Measured (MODEL_CARD.md, "Runtime"): per-channel without reduce_range is the most
    accurate (per-tensor costs 1-2 points ATE; reduce_range, meant for CPUs without VNNI,
    1.2 points laptops ATSC); quantising the embeddings (Gather) too saves 36 MB on disk but
    costs 2.4 points laptops ATSC."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.disable(logging.WARNING)  # the quantiser's advice goes to the root logger
    try:
        quantize_dynamic(
            str(source),
            str(target),
            weight_type=QuantType.QInt8,
            per_channel=per_channel,
            reduce_range=reduce_range,
            op_types_to_quantize=list(op_types),
        )
    finally:
        logging.disable(logging.NOTSET)


class _tmp_beside:
    """A temporary file name in `path`'s folder (same file system: `os.replace` is atomic),
    removed on the way out unless it was renamed."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        os.close(fd)
        self.tmp = Path(name)
        return self.tmp

    def __exit__(self, *exc) -> None:
        self.tmp.unlink(missing_ok=True)
        for extra in self.tmp.parent.glob(f"{self.tmp.name}*"):  # external-data leftovers
            extra.unlink(missing_ok=True)


def _check_loads(path: Path) -> None:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def model_path(digest: str, runtime: str, directory: Path | None = None) -> Path:
    variant = "fp32" if runtime == "onnx" else "int8"
    return (directory or cache_dir()) / f"minilm-{digest[:16]}-{EXPORT_TAG}-{variant}.onnx"


def session(path: Path, intra_op_threads: int | None = None):
    """An ORT session on the CPU: OPINION_THREADS intra-op threads (int8 reads rows in
    parallel, one thread each: `intra_op_threads=1`), sequential execution.
    No memory arena: with batches of every shape it only grows (peak RSS), for no speed."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = intra_op_threads or threads()
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.enable_cpu_mem_arena = False
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def load_session(encoder, digest: str, runtime: str, directory: Path | None = None):
    """(session, path) for the encoder: the cached export when ORT loads it, else exported
    (fp32, then int8 for `onnx-int8`) and cached first."""
    path = model_path(digest, runtime, directory)
    intra = 1 if runtime == "onnx-int8" else None  # rows run in parallel, one core each
    if path.exists():
        try:
            return session(path, intra), path
        except Exception as exc:  # noqa: BLE001 - a corrupt or truncated file
            log.warning("cached ONNX encoder unreadable (%s), exporting it again: %s", path, exc)
            path.unlink(missing_ok=True)
    build(encoder, runtime, path)
    return session(path, intra), path


@functools.cache
def _row_pool():
    """The threads that read int8 rows in parallel (OPINION_THREADS of them), one pool per
    process."""
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=threads(), thread_name_prefix="opinion-ort")


@functools.cache
def _encoder_module_class():
    """The nn.Module subclass, defined on first use (this module imports without torch)."""
    import numpy as np
    import torch

    class OrtEncoder(torch.nn.Module):
        """Stands in for the BERT encoder: `(input_ids, attention_mask)` -> an object with
        `.last_hidden_state` (float32 torch tensor on the CPU). Holds no torch parameters."""

        def __init__(self, sess, config, runtime: str, path: Path):
            super().__init__()
            self.session = sess
            self.config = config
            self.runtime = runtime
            self.path = path

        def forward(self, input_ids=None, attention_mask=None, **_ignored):
            if attention_mask is None:
                attention_mask = torch.ones_like(input_ids)
            feeds = {
                "input_ids": np.ascontiguousarray(input_ids.cpu().numpy(), dtype=np.int64),
                "attention_mask": np.ascontiguousarray(
                    attention_mask.cpu().numpy(), dtype=np.int64
                ),
            }
            if self.runtime == "onnx-int8":
                states = self._row_by_row(feeds)
            else:
                states = self._sliced(feeds)
            return EncoderOutput(torch.from_numpy(states))

        def _sliced(self, feeds):
            rows, width = feeds["input_ids"].shape
            step = max(1, ATTENTION_CELLS // max(1, width * width))
            if rows <= step:
                return self.session.run(["last_hidden_state"], feeds)[0]
            return np.concatenate(
                [
                    self.session.run(
                        ["last_hidden_state"], {k: v[b : b + step] for k, v in feeds.items()}
                    )[0]
                    for b in range(0, rows, step)
                ]
            )

        def _row_by_row(self, feeds):
            """One row per call, without its padding: dynamic int8 scales activations by the
            largest in the call, so a batch would make a post's reading depend on the posts
            beside it (70 of 600 demo tweets changed spans or labels between chunkings).
            Row by row it depends on its own tokens only; measured ~15% slower than batches
            of 64 on the encoder, still faster than torch bf16 end to end."""
            ids, mask = feeds["input_ids"], feeds["attention_mask"]
            rows, width = ids.shape
            out = np.zeros((rows, width, self.config.hidden_size), dtype=np.float32)

            def read(r: int) -> None:
                real = np.flatnonzero(mask[r])
                n = int(real[-1]) + 1 if len(real) else 1
                one = {"input_ids": ids[r : r + 1, :n], "attention_mask": mask[r : r + 1, :n]}
                out[r, :n] = self.session.run(["last_hidden_state"], one)[0][0]

            # ORT releases the GIL in `run`: the rows of a batch are read in parallel, each
            # on one core (a 30-token row is too small to split across cores)
            list(_row_pool().map(read, range(rows)))
            return out

    return OrtEncoder


def onnx_encoder(encoder, digest: str, runtime: str, directory: Path | None = None):
    """An `OrtEncoder` for a loaded (delta-applied) torch encoder."""
    sess, path = load_session(encoder, digest, runtime, directory)
    return _encoder_module_class()(sess, encoder.config, runtime, path)


def use_onnx(model, digest: str, runtime: str, directory: Path | None = None) -> bool:
    """Swap `model.encoder` (a `JointAbsaModel`) for ONNX Runtime in place and put the heads
    in fp32. False, after one warning line, when onnxruntime is missing or the export fails:
    the caller then prepares the torch model as usual."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        log.warning("OPINION_RUNTIME=%s but onnxruntime is not installed: using torch", runtime)
        return False
    try:
        ort_encoder = onnx_encoder(model.encoder, digest, runtime, directory)
    except Exception as exc:  # noqa: BLE001 - any export failure falls back to torch
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        log.warning("ONNX export of the encoder failed (%s): using torch", first[:200])
        return False
    model.encoder = ort_encoder
    model.float().eval()
    return True
