"""Model registry: a named spec selects the aspect tagger and the polarity model.

`embedded` (the default) is the packaged MiniLM encoder plus the delta and heads this project
trained (`data/models/absa-minilm/`, one joint model: `joint.py`). Any Hugging Face model
directory or hub id can replace either part by configuration, e.g.

    OPINION_MODEL="polarity=yangheng/deberta-v3-base-absa-v1.1,polarity_style=plain"

keeps the embedded tagger and swaps the polarity model (needs the hub or a local copy).
Models load once per process (`load_models` is cached), never per record.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from opinion.config import DATA_DIR

EMBEDDED = "embedded"
EMBEDDED_DIR = DATA_DIR / "models" / "absa-minilm"
JOINT_FILE = "joint.safetensors"  # encoder delta + tagging and span-sentiment heads

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSpec:
    """Where each part comes from: `embedded`, a local directory, or a hub id."""

    tagger: str = EMBEDDED
    polarity: str = EMBEDDED
    polarity_style: str = "marked"
    embedded_dir: str = str(EMBEDDED_DIR)

    def __post_init__(self) -> None:
        if self.polarity_style not in ("marked", "plain"):
            raise ValueError(f"polarity_style must be marked or plain, not {self.polarity_style!r}")
        if not self.tagger or not self.polarity:
            raise ValueError("model spec needs a tagger and a polarity model")

    @classmethod
    def parse(cls, spec: str | None) -> ModelSpec:
        """`embedded`, or comma-separated `key=value` (keys: tagger, polarity, polarity_style,
        embedded_dir). A bare path or id is taken as both parts."""
        spec = (spec or EMBEDDED).strip()
        if "=" not in spec:
            return cls() if spec == EMBEDDED else cls(tagger=spec, polarity=spec)
        fields: dict[str, str] = {}
        for part in spec.split(","):
            key, _, value = part.partition("=")
            key = key.strip()
            if key not in cls.__dataclass_fields__:
                raise ValueError(f"unknown model spec key {key!r} in {spec!r}")
            fields[key] = value.strip()
        if fields.get("polarity", EMBEDDED) != EMBEDDED and "polarity_style" not in fields:
            fields["polarity_style"] = "plain"
        return cls(**fields)


def file_digest(directory: Path) -> str:
    """sha1 of the trained file: what a long-post head fitted on it records (a copy of the
    folder under another name keeps its head)."""
    path = directory / JOINT_FILE
    return hashlib.sha1(path.read_bytes() if path.exists() else b"-").hexdigest()


def file_version(directory: Path, digest: str | None = None) -> str:
    """`<folder>@<sha1 of the trained file>`: changes whenever the model is retrained."""
    return f"{directory.name}@{(digest or file_digest(directory))[:10]}"


def embedded_version(directory: Path, digest: str | None = None) -> str:
    """The model file's version (`file_version`), or, when a long-post head fitted on that
    file is beside it (`long_head.py`), a version of the two together: both decide what a
    mention says."""
    from opinion.nlp.long_head import LONG_HEAD_FILE, head_identity

    digest = digest or file_digest(directory)
    version = file_version(directory, digest)
    identity = head_identity(directory / LONG_HEAD_FILE)
    if identity is None or identity[0] != digest:
        return version
    both = hashlib.sha1(f"{digest} {identity[1]}".encode()).hexdigest()
    return f"{directory.name}@{both[:10]}"


#: the post-sentiment head's tensors: all a `opinion train --post-labels` refit changes
POST_HEAD_KEYS = (
    "classifier.post_hidden.weight",
    "classifier.post_hidden.bias",
    "classifier.post_out.weight",
    "classifier.post_out.bias",
)


def encoder_digest(base_dir: Path) -> str:
    """sha1 of everything the model file stores but the post head: what the post head's
    input depends on (a refit post head leaves it as it was)."""
    import torch
    from safetensors import safe_open

    digest = hashlib.sha1()
    with safe_open(str(base_dir / JOINT_FILE), framework="pt") as fh:
        for name in sorted(fh.keys()):
            if name.split("::", 1)[-1] in POST_HEAD_KEYS:
                continue
            tensor = fh.get_tensor(name).contiguous()
            digest.update(name.encode())
            digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _quiet_transformers() -> None:
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def _prepare(model):
    from opinion.nlp.backbone import configure_torch, device_and_dtype

    configure_torch()
    device, dtype = device_and_dtype()
    if dtype == "int8":
        import torch

        model = model.float().eval()
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    return model.to(device=device, dtype=dtype).eval()


def _embedded_joint(embedded_dir: str, runtime: str | None = None):
    """Our model (`joint.py`): the packaged encoder plus the stored delta and heads. One
    object serves as tagger and polarity model, loaded once per folder and runtime.
    `runtime`: torch, onnx or onnx-int8 (`onnx_encoder.py`; default `OPINION_RUNTIME`, else
    onnx-int8). Training and the post-head refit ask for torch."""
    from opinion.nlp.onnx_encoder import runtime_choice

    _quiet_transformers()
    return _load_embedded_joint(embedded_dir, runtime_choice(runtime))


def _clear_embedded() -> None:
    _load_embedded_joint.cache_clear()


_embedded_joint.cache_clear = _clear_embedded  # callers clear it after a retrain


@functools.lru_cache(maxsize=2)
def _load_embedded_joint(embedded_dir: str, runtime: str):
    from transformers import AutoTokenizer

    from opinion.nlp.backbone import embedded_encoder_dir
    from opinion.nlp.delta import apply_delta
    from opinion.nlp.joint import JointAbsa, new_model
    from opinion.nlp.long_head import load_long_head

    delta_file = Path(embedded_dir) / JOINT_FILE
    if not delta_file.exists():
        raise FileNotFoundError(
            f"embedded model file missing: {delta_file} (run `opinion train` to create it)"
        )
    base = embedded_encoder_dir()
    model = new_model(base)
    meta = apply_delta(model, delta_file)
    tokenizer = AutoTokenizer.from_pretrained(base)
    post_head = "post-sentiment" in meta.get("task", "")
    folder = delta_file.parent
    digest = encoder_digest(folder)
    whole = file_digest(folder)  # hashed once: the version and the long head's check
    joint = JointAbsa(
        _prepare_joint(model, digest, runtime),
        tokenizer,
        embedded_version(folder, whole),
        post_head=post_head,
        encoder_version=f"encoder@{digest[:10]}",
    )
    joint.long_head = load_long_head(folder, whole) if post_head else None
    return joint


def _prepare_joint(model, digest: str, runtime: str):
    """The joint model ready for inference: its encoder on ONNX Runtime (`onnx_encoder.py`)
    with fp32 heads, or torch as `_prepare` sets it up (runtime torch, CUDA, or a failed
    export: one warning line). The version stamped on mentions does not depend on the
    runtime: same weights, and the int8 encoder is within 0.5 point of torch on the MAMS,
    restaurants and airline dev checks (MODEL_CARD.md, "Runtime"; the small laptops split
    moves 0.8), as bf16 is within noise of fp32."""
    from opinion.nlp.backbone import configure_torch, device_and_dtype

    if runtime != "torch" and device_and_dtype()[0] == "cpu":
        from opinion.nlp.onnx_encoder import use_onnx

        configure_torch()  # the heads still run in torch
        if use_onnx(model, digest, runtime):
            return model
    return _prepare(model)


def _foreign(auto_cls, name: str):
    from transformers import AutoTokenizer

    model = auto_cls.from_pretrained(name)
    tokenizer = AutoTokenizer.from_pretrained(name)
    return model, tokenizer, Path(name).name or name


def load_tagger(spec: ModelSpec, runtime: str | None = None):
    from transformers import AutoModelForTokenClassification

    from opinion.nlp.tagger import AspectTagger

    _quiet_transformers()
    if spec.tagger == EMBEDDED:
        return _embedded_joint(spec.embedded_dir, runtime)
    model, tok, version = _foreign(AutoModelForTokenClassification, spec.tagger)
    label_map = {}
    for i, name in model.config.id2label.items():
        name = str(name).upper()
        label_map[int(i)] = 1 if name.startswith("B") else 2 if name.startswith("I") else 0
    return AspectTagger(_prepare(model), tok, version, label_map=label_map)


def load_polarity(spec: ModelSpec, runtime: str | None = None):
    from transformers import AutoModelForSequenceClassification

    from opinion.nlp.polarity import PolarityClassifier

    _quiet_transformers()
    if spec.polarity == EMBEDDED:
        return _embedded_joint(spec.embedded_dir, runtime)
    model, tok, version = _foreign(AutoModelForSequenceClassification, spec.polarity)
    return PolarityClassifier(_prepare(model), tok, version, spec.polarity_style)


def load_models(spec_text: str | None = None):
    """(tagger, polarity) for a spec string, loaded once per process and runtime
    (`OPINION_RUNTIME`, checked on every call: a bad value is an error, not a cached model)."""
    from opinion.nlp.onnx_encoder import runtime_choice

    return _load_models(spec_text, runtime_choice())


@functools.lru_cache(maxsize=4)
def _load_models(spec_text: str | None, runtime: str):
    spec = ModelSpec.parse(spec_text)
    return load_tagger(spec, runtime), load_polarity(spec, runtime)


load_models.cache_clear = _load_models.cache_clear  # callers clear it after a retrain


def model_version(spec_text: str | None = None) -> str:
    """The version string `load_models(spec_text)` will stamp, computed without loading any
    model (cheap enough for Airflow to decide which partitions are stale)."""
    spec = ModelSpec.parse(spec_text)

    def part(name: str) -> str:
        return (
            embedded_version(Path(spec.embedded_dir))
            if name == EMBEDDED
            else (Path(name).name or name)
        )

    tagger, polarity = part(spec.tagger), part(spec.polarity)
    return tagger if tagger == polarity else f"{tagger}+{polarity}"
