"""`opinion bench`: extraction throughput and peak memory on the demo corpus, side by side
with a naive baseline (the same models, one post and one target at a time), the cost of the
spaCy layer alone (`linguistic_ms_per_post`, part of the batched figure), and the throughput of
collect's privacy step (`privacy_posts_per_s`: Presidio on spaCy); `corpus="reviews"` adds long
reviews (reviews/s and tokens/s).

Both run in one process and one invocation, so their ratio is not skewed by a noisy machine.
The last printed line is the JSON result.
"""

from __future__ import annotations

import csv
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from opinion.config import Settings


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def demo_texts(limit: int | None = None) -> list[str]:
    from opinion.demo import demo_corpus

    with demo_corpus(Settings.from_env()).open(newline="", encoding="utf-8") as fh:
        texts = [row["text"] for row in csv.DictReader(fh)]
    return texts[:limit] if limit else texts


REVIEWS_FILE = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "reviews" / "airline_reviews.csv"
)


def review_texts(path: Path | None = None, limit: int | None = 2000) -> list[str]:
    """Review bodies of a CSV with a `text` column (default: the airline reviews beside the
    checkout, `../shared/data/reviews/airline_reviews.csv`), the first `limit` of them."""
    path = Path(path) if path else REVIEWS_FILE
    if not path.exists():
        raise FileNotFoundError(f"reviews file not found: {path} (pass --reviews FILE)")
    with path.open(newline="", encoding="utf-8") as fh:
        texts = [row["text"] for row in csv.DictReader(fh) if (row.get("text") or "").strip()]
    return texts[:limit] if limit else texts


def token_count(engine, texts: list[str]) -> int:
    """Encoder tokens in `texts` (the unit extraction cost should grow with)."""
    tokenizer = engine.tagger.tokenizer
    return sum(len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"])


def fast_pass(engine, texts: list[str], brands, mapper=None, chunk: int = 512) -> float:
    """Seconds for the batched engine over all texts, end to end: aspects (tagger + taxonomy
    seed terms), sentiment per aspect and per post, and the aspect → touchpoint mapping."""
    from opinion.analyze import post_target

    started = time.perf_counter()
    for c in range(0, len(texts), chunk):
        part = texts[c : c + chunk]
        results = engine.analyze(part, [post_target(t, brands) for t in part])
        if mapper is not None:
            mapper([{"term": a.term, "aspect": a.aspect} for r in results for a in r.aspects])
    return time.perf_counter() - started


def linguistic_pass(taxonomy, texts: list[str], chunk: int = 512) -> float:
    """CPU seconds (`time.process_time`: the layer is single-threaded, and CPU time stays
    honest on a shared machine) of the spaCy layer alone, as extraction uses it: tokens and
    lemmas per batch, seed terms, friction, negation of friction terms (parsing only where a
    cue is near), canonical aspects, sentences. A cold layer: no post is already tokenised."""
    from opinion.nlp.engine import LONG_POST_CHARS, normalise_aspect
    from opinion.nlp.linguistic import Linguistic
    from opinion.nlp.sentences import sentence_spans

    seeds = [s for c in taxonomy.categories.values() for s in c.seeds]
    layer = Linguistic(seeds, taxonomy.friction)
    Linguistic.forget()
    started = time.process_time()
    for c in range(0, len(texts), chunk):
        part = texts[c : c + chunk]
        layer.prepare(part)
        sentence_spans([t for t in part if len(t) > LONG_POST_CHARS])
        for text in part:
            for s, e in layer.seed_spans(text):
                term = text[s:e]
                normalise_aspect(term)
                if layer.is_friction(term):
                    layer.negated(text, s, e)
    return time.process_time() - started


def naive_pass(engine, texts: list[str]) -> float:
    """Seconds for the same models used naively, one forward pass per call as a
    `transformers.pipeline` serves them: the tagger once per post, then the sentiment model
    once per target (each tagged aspect, then the post), each call reading the post afresh."""
    from opinion.nlp.polarity import Target

    forget = getattr(engine.tagger, "forget_states", lambda: None)
    started = time.perf_counter()
    for text in texts:
        spans = engine.tagger.extract([text], 1)[0]
        forget()  # the joint model would otherwise reuse the tagging pass
        for sp in spans:
            engine.polarity.probabilities([Target(text, sp.start, sp.end)], 1)
        engine.polarity.probabilities([Target(text, 0, len(text))], 1)
    return time.perf_counter() - started


def privacy_pass(limit: int | None = None) -> tuple[int, float]:
    """(posts, seconds) of collect's privacy step over the demo corpus rows: normalise, cap,
    Presidio (pattern recognizers on every string, spaCy NER on name candidates) on the text
    and every raw payload string, author hashing, URL cleaning (`opinion.collect.gate.to_posts`)."""
    from datetime import UTC, datetime

    from opinion.clean.brands import load_brands
    from opinion.collect.gate import PRIVACY_BATCH, privacy_redactor, to_posts
    from opinion.demo import demo_corpus
    from opinion.records import RawRecord
    from opinion.sources.files import AIRLINE_TWEETS, TWEET_URL, FileSourceConfig, read_file

    settings = Settings.from_env()
    cfg = FileSourceConfig(demo_corpus(settings), "airline_tweets", AIRLINE_TWEETS, TWEET_URL)
    records = [r for r in read_file(cfg) if isinstance(r, RawRecord)][:limit]
    brands = load_brands(settings)
    redactor = privacy_redactor(brands.handles, [w for b in brands for w in (b.name, *b.aliases)])
    now = datetime.now(UTC)
    to_posts(records[:64], "bench-salt", redactor, now)  # loads spaCy + Presidio
    started = time.perf_counter()
    for c in range(0, len(records), PRIVACY_BATCH):
        to_posts(records[c : c + PRIVACY_BATCH], "bench-salt", redactor, now)
    return len(records), time.perf_counter() - started


def _timed_runs(
    one_pass: Callable[[], float], n: int, repeats: int, name: str, say, unit: str = "posts"
) -> list[float]:
    """Items/s of `repeats` passes (each returns its seconds), each reported as it ends."""
    rates = []
    for r in range(repeats):
        seconds = one_pass()
        rates.append(n / seconds)
        say(
            f"{name} run {r + 1}/{repeats}: {n} {unit} in {seconds:.1f}s ({rates[-1]:.1f} {unit}/s)"
        )
    return rates


def run_bench(
    limit: int | None = None,
    naive_limit: int = 300,
    model: str | None = None,
    repeats: int = 3,
    echo: Callable[[str], None] | None = print,
    corpus: str = "tweets",
    reviews_path: Path | None = None,
    reviews_limit: int | None = 2000,
    pipeline: bool = True,
    privacy: bool = True,
) -> dict:
    """The demo tweets (batched vs naive), and with `corpus="reviews"` long reviews too,
    measured in the same process: reviews/s and tokens/s beside the tweet figures.
    `privacy=False` skips collect's privacy step (not the engine's: `compare_runtimes`)."""
    from opinion.clean.brands import BrandList

    say = echo or (lambda _msg: None)
    texts = demo_texts(limit)
    settings = Settings.from_env()
    brands = BrandList.load(settings.brands_file)
    from opinion.extract.stage import load_engine
    from opinion.nlp.taxonomy import mapper_for

    t = time.perf_counter()
    engine = load_engine(settings, model)
    mapper = mapper_for(settings)
    mapper([{"term": "seat", "aspect": "seat"}])  # loads the encoder before timing
    say(f"models loaded in {time.perf_counter() - t:.1f}s ({engine.version})")
    fast_pass(engine, texts[:256], brands, mapper)  # warm-up: allocator, kernels
    runs = _timed_runs(
        lambda: fast_pass(engine, texts, brands, mapper), len(texts), repeats, "batched", say
    )
    peak = _peak_rss_mb()
    from opinion.nlp.taxonomy import taxonomy_for

    ling = statistics.median(
        linguistic_pass(taxonomy_for(settings), texts) * 1000 / len(texts) for _ in range(repeats)
    )
    say(f"spaCy layer alone: {ling:.3f} CPU ms/post (included in the batched runs)")
    naive_texts = texts[:naive_limit]
    naive_runs = _timed_runs(
        lambda: naive_pass(engine, naive_texts), len(naive_texts), repeats, "naive", say
    )
    fast, naive = statistics.median(runs), statistics.median(naive_runs)
    result: dict = {}
    if corpus == "reviews":
        reviews = review_texts(reviews_path, reviews_limit)
        review_runs = _timed_runs(
            lambda: fast_pass(engine, reviews, brands, mapper), len(reviews), repeats, "reviews",
            say, unit="reviews",
        )  # fmt: skip
        per_s = statistics.median(review_runs)
        tokens = token_count(engine, reviews)
        result = {
            "reviews": len(reviews),
            "review_median_chars": statistics.median(len(t) for t in reviews),
            "reviews_per_s": round(per_s, 1),
            "review_tokens_per_s": round(per_s * tokens / len(reviews), 1),
        }
        peak = max(peak, _peak_rss_mb())
    if privacy:  # last: Presidio's recognisers are collect's memory (peak taken above)
        n_private, private_s = privacy_pass(limit)
        say(f"privacy step (collect): {n_private} posts in {private_s:.1f}s")
        result["privacy_posts_per_s"] = round(n_private / private_s, 1)
    if pipeline:  # what users see: the commands themselves, start-up included
        from opinion.bench_pipeline import pipeline_pass

        stages = pipeline_pass(limit, model)
        stages["extract_share_of_bench"] = round(stages["extract_posts_per_s"] / fast, 2)
        say(
            f"opinion collect: {stages['collect_posts_per_s']} posts/s; opinion extract --force: "
            f"{stages['extract_posts']} posts in {stages['extract_wall_s']}s "
            f"({stages['extract_posts_per_s']} posts/s, {stages['extract_share_of_bench']} of "
            "the batched engine's)"
        )
        result.update(stages)
    return {
        "runtime": engine_runtime(engine),
        "tweet_tokens_per_s": round(fast * token_count(engine, texts) / len(texts), 1),
        **result,
        "posts": len(texts),
        "naive_posts": len(naive_texts),
        "repeats": repeats,
        "model_version": engine.version,
        "posts_per_s": round(fast, 1),
        "linguistic_ms_per_post": round(ling, 3),
        "peak_rss_mb": round(peak, 1),
        "naive_posts_per_s": round(naive, 1),
        "speedup": round(fast / naive, 2),
    }


def engine_runtime(engine) -> str:
    """What runs the engine's encoder: torch-<dtype>, onnx or onnx-int8 (`onnx_encoder`)."""
    model = getattr(engine.tagger, "model", None)
    runtime = getattr(getattr(model, "encoder", None), "runtime", None)
    if runtime:
        return runtime
    try:
        dtype = next(model.parameters()).dtype
    except (AttributeError, StopIteration):
        return "torch"
    return f"torch-{str(dtype).removeprefix('torch.')}"


RUNTIME_KEYS = (
    "runtime",
    "posts_per_s",
    "reviews_per_s",
    "peak_rss_mb",
    "naive_posts_per_s",
    "speedup",
    "tweet_tokens_per_s",
    "review_tokens_per_s",
    "extract_posts_per_s",
    "model_version",
)


def compare_runtimes(runtimes: list[str], args: list[str], rounds: int = 3, echo=print) -> dict:
    """The same bench (`args`: `opinion bench` options) once per runtime per round, each run
    in a process of its own (`OPINION_RUNTIME`), so each runtime's peak RSS is its own;
    rounds interleave the runtimes, so a machine that gets busier slows them alike. Each
    runtime is loaded once first (the ONNX export is cached, not timed). Medians of the
    rounds' rates, the highest peak RSS."""
    import json
    import os
    import subprocess
    import sys

    from opinion.nlp.onnx_encoder import runtime_choice

    runtimes = [runtime_choice(r) for r in runtimes]
    say = echo or (lambda _msg: None)
    for runtime in runtimes:  # a one-time export is not a runtime's speed nor its memory
        warm = "from opinion.nlp.registry import load_models; load_models()"
        env = {**os.environ, "OPINION_RUNTIME": runtime}
        subprocess.run([sys.executable, "-c", warm], env=env, capture_output=True, check=False)
    runs: dict[str, list[dict]] = {r: [] for r in runtimes}
    for n in range(rounds):
        for runtime in runtimes:
            cmd = [sys.executable, "-m", "opinion", "bench", "--json", "--no-privacy", *args]
            cmd += [] if "--pipeline" in args else ["--no-pipeline"]
            env = {**os.environ, "OPINION_RUNTIME": runtime}
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["?"]
                raise RuntimeError(f"bench with OPINION_RUNTIME={runtime} failed: {tail[0]}")
            runs[runtime].append(json.loads(done.stdout.strip().splitlines()[-1]))
            r = runs[runtime][-1]
            say(
                f"round {n + 1}/{rounds} {runtime} ({r['runtime']}): {r['posts_per_s']} posts/s"
                + (f", {r['reviews_per_s']} reviews/s" if "reviews_per_s" in r else "")
                + f", peak RSS {r['peak_rss_mb']:.0f} MB"
            )
    out: dict = {"rounds": rounds, "runtimes": {}}
    for runtime, results in runs.items():
        row: dict = {}
        for key in RUNTIME_KEYS:
            values = [r[key] for r in results if key in r]
            if not values:
                continue
            if key == "peak_rss_mb":
                row[key] = max(values)
            elif isinstance(values[0], (int, float)):
                row[key] = round(statistics.median(values), 2)
            else:
                row[key] = values[-1]
        out["runtimes"][runtime] = row
    return out
