"""`opinion analyze`: ad-hoc ABSA of a CSV/JSONL/Parquet file, without the pipeline.

One JSON line per input row: `{"id", "sentiment", "aspects": [{term, from, to, polarity,
confidence}]}`; a row that cannot be analysed gets `"error"` instead and the file goes on.
Offsets refer to the input text as given (no normalisation), so they can be checked against it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

CHUNK = 1024
_LEADING_HANDLE = re.compile(r"^\s*(?:\.?@\w+\s*)+")


def read_rows(path: Path) -> Iterator[dict]:
    """Rows of a CSV, JSON Lines or Parquet file as dicts (unreadable rows as errors)."""
    from opinion.sources.files import read_rows as file_rows

    for row in file_rows(path):
        yield row if isinstance(row, dict) else {"__error__": row.reason}


def post_target(text: str, brands) -> tuple[int, int, bool] | None:
    """The post-level sentiment target: a known brand mention, else a leading @handle; the
    third item says whether the post names another known brand too (`AbsaEngine.analyze`)."""
    found = brands.find(text) if brands is not None else None
    if found:
        return found[1], found[2], brands.names_other(text, found)
    m = re.match(r"^\s*\.?(@\w+)", text)
    return (*m.span(1), False) if m else None


def engine_and_brands(model: str | None = None):
    """The engine (models loaded once per process) and the brand list for post targets (None
    when the configured list cannot be read: posts are then read without a brand target)."""
    from opinion.config import Settings
    from opinion.extract.stage import load_engine

    settings = Settings.from_env()
    engine = load_engine(settings, model)
    try:
        from opinion.clean.brands import BrandList

        brands = BrandList.load(settings.brands_file)
    except (OSError, ValueError):
        brands = None
    return engine, brands


def sentiment_labels(
    path: Path,
    text_col: str = "text",
    label_col: str = "label",
    rating_buckets: tuple[float, float] | None = None,
    strict: bool = False,
) -> tuple[list[str], list[str], int]:
    """(texts, labels, skipped) of a labelled CSV / JSON Lines / Parquet file: label names
    with their aliases (`evaluate_sentiment.LABEL_ALIASES`), or a numeric rating bucketed by
    `rating_buckets`. Rows without a text or a label are skipped; with `strict`, a label that
    is there but unknown is a one-line ValueError (training must not guess)."""
    from opinion.nlp.evaluate_sentiment import KNOWN_LABELS, normalise_label, rating_label

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"input file not found: {path}")
    rows = [r for r in read_rows(path) if "__error__" not in r]
    if not rows:
        raise ValueError(f"{path.name}: no readable rows")
    for col in (text_col, label_col):
        if col not in rows[0]:
            raise ValueError(f"no column {col!r} in {path.name}; columns: {list(rows[0])[:12]}")
    texts, gold = [], []
    for n, row in enumerate(rows, 1):
        text, raw = row.get(text_col), row.get(label_col)
        label = rating_label(raw, rating_buckets) if rating_buckets else normalise_label(raw)
        if label is None and strict and raw is not None and str(raw).strip():
            raise ValueError(
                f"{path.name} row {n}: unknown label {str(raw)[:40]!r} in {label_col!r} "
                f"(known: {KNOWN_LABELS})"
            )
        if isinstance(text, str) and text.strip() and label is not None:
            texts.append(text)
            gold.append(label)
    if not texts:
        what = "numeric ratings" if rating_buckets else "labels negative/neutral/positive"
        raise ValueError(f"{path.name}: no row has a text and {what} in {label_col!r}")
    return texts, gold, len(rows) - len(texts)


def post_tweets(data_dir: str | Path, value: str | None) -> Path | None:
    """`opinion train --post-data`: a file, `none`, or (unset) the SemEval-2017 tweets beside
    the ABSA folder when they are there."""
    if value is not None:
        if value.strip().lower() == "none":
            return None
        if not Path(value).is_file():
            raise FileNotFoundError(f"post-sentiment tweets not found: {value}")
        return Path(value)
    from opinion.nlp.train import POST_FILE

    default = Path(data_dir).parent / "tweets" / POST_FILE
    return default if default.is_file() else None


def train_post_labels(
    labels_path,
    text_col,
    label_col,
    rating_buckets,
    base_dir,
    out_dir,
    tweets,
    dev_path,
    seed=13,
    limit=None,
    epochs=None,
    echo=print,
) -> dict:
    """`opinion train --post-labels FILE`: refit the post head on a labelled file (and the
    general tweets), the general tweets' features kept in ~/.cache/opinion/post-features."""
    import os

    from opinion.nlp.post_head import PostHeadConfig, train_post_head

    texts, labels, dev = _train_and_dev(
        labels_path, dev_path, text_col, label_col, rating_buckets, echo
    )
    if tweets is None:
        echo("no general post-level tweets (--post-data): the head learns your labels alone")
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "opinion"
    cfg = PostHeadConfig(
        Path(base_dir),
        Path(out_dir),
        post_data=tweets,
        seed=seed,
        limit=limit,
        cache_dir=cache / "post-features",
        **({"epochs": epochs} if epochs else {}),
    )
    return train_post_head(cfg, texts, labels, dev, echo)


def _train_and_dev(labels_path, dev_path, text_col, label_col, rating_buckets, echo):
    """(texts, labels, dev (texts, labels) or None) of a training file and its dev file."""
    texts, labels, skipped = sentiment_labels(
        Path(labels_path), text_col, label_col, rating_buckets, strict=True
    )
    dev = None
    if dev_path:
        dev_texts, dev_labels, _ = sentiment_labels(
            Path(dev_path), text_col, label_col, rating_buckets, strict=True
        )
        dev = (dev_texts, dev_labels)
    echo(f"{len(texts)} labelled posts ({skipped} rows without text or label skipped)")
    return texts, labels, dev


def train_long_labels(
    labels_path, text_col, label_col, rating_buckets, base_dir, out_dir, dev_path, echo=print
) -> dict:
    """`opinion train --long-labels FILE`: fit the long-post head of the model in `base_dir`
    on rated long posts, written with that model into `out_dir`."""
    import shutil

    from opinion.nlp.long_head import LONG_HEAD_FILE
    from opinion.nlp.long_train import train_long_head
    from opinion.nlp.registry import JOINT_FILE

    texts, labels, dev = _train_and_dev(
        labels_path, dev_path, text_col, label_col, rating_buckets, echo
    )
    base, out = Path(base_dir), Path(out_dir)
    if not (base / JOINT_FILE).exists():
        raise FileNotFoundError(f"no model file in {base} ({JOINT_FILE})")
    if out.resolve() != base.resolve():
        out.mkdir(parents=True, exist_ok=True)
        for path in base.iterdir():
            if path.is_file() and path.name != LONG_HEAD_FILE:
                shutil.copy2(path, out / path.name)
    return train_long_head(out, texts, labels, dev, echo)


def evaluate_sentiment_file(
    path: Path,
    text_col: str = "text",
    label_col: str = "label",
    rating_buckets: tuple[float, float] | None = None,
    model: str | None = None,
) -> dict:
    """`opinion eval FILE --task sentiment`: the engine's post-level sentiment against a
    labelled CSV / JSON Lines / Parquet file (label names, or a numeric rating bucketed by
    `rating_buckets`), with VADER on the same rows. Rows without a usable label or text are
    counted as skipped."""
    from opinion.nlp.evaluate_sentiment import sentiment_metrics, vader_labels

    texts, gold, skipped = sentiment_labels(path, text_col, label_col, rating_buckets)
    engine, brands = engine_and_brands(model)
    pred: list[str | None] = []
    for c in range(0, len(texts), CHUNK):
        chunk = texts[c : c + CHUNK]
        results = engine.analyze(chunk, [post_target(t, brands) for t in chunk])
        pred += [r.sentiment for r in results]
    return {
        "n": len(texts),
        "skipped": skipped,
        "model_version": engine.version,
        "labels": {c: gold.count(c) for c in sorted(set(gold))},
        "sentiment": sentiment_metrics(gold, pred),
        "baseline": {"name": "vader", "sentiment": sentiment_metrics(gold, vader_labels(texts))},
    }


def analyze_file(
    path: Path,
    out: Path,
    text_col: str = "text",
    id_col: str | None = None,
    model: str | None = None,
) -> int:
    from tqdm.auto import tqdm

    if not path.exists():
        raise FileNotFoundError(f"input file not found: {path}")
    from opinion.collect.gate import cap_text

    engine, brands = engine_and_brands(model)
    rows = list(read_rows(path))
    if rows and "__error__" not in rows[0] and text_col not in rows[0]:
        raise ValueError(f"no column {text_col!r} in {path.name}; columns: {list(rows[0])[:12]}")
    out.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with out.open("w", encoding="utf-8") as fh, tqdm(total=len(rows), unit="post") as bar:
        for c in range(0, len(rows), CHUNK):
            chunk = rows[c : c + CHUNK]
            # the collect stage's length cap: one 5 MB "post" must not stall the whole file
            texts = [
                cap_text(t) if isinstance(t, str) else t
                for t in (r.get(text_col) if "__error__" not in r else None for r in chunk)
            ]
            targets = [post_target(t, brands) if isinstance(t, str) else None for t in texts]
            for k, (row, res) in enumerate(zip(chunk, engine.analyze(texts, targets), strict=True)):
                rid = row.get(id_col) if id_col else c + k
                obj: dict = {
                    "id": rid,
                    "sentiment": res.sentiment,
                    "sentiment_confidence": res.sentiment_confidence,
                }
                obj["aspects"] = [
                    {
                        "term": a.term,
                        "from": a.start,
                        "to": a.end,
                        "aspect": a.aspect,
                        "polarity": a.polarity,
                        "confidence": a.confidence,
                    }
                    for a in res.aspects
                ]
                if res.error or "__error__" in row:
                    obj["error"] = row.get("__error__") or res.error
                fh.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
                written += 1
            bar.update(len(chunk))
    return written
