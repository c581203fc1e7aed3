"""Aspect sentiment with a sequence-classification cross-encoder: one pass per aspect.

This is how *foreign* models are served (`OPINION_MODEL=polarity=…`): e.g.
`yangheng/deberta-v3-base-absa-v1.1` takes the plain (text, aspect) pair and names its labels
in `config.id2label`; a model fine-tuned with the aspect marked in place (`… the [ battery life
] is …`, paired with the term) uses `input_style="marked"`. The embedded model reads each post
once for all its aspects instead (`joint.py`); both expose `classify` and `probabilities`.
"""

from __future__ import annotations

from dataclasses import dataclass

CLASSES = ("negative", "neutral", "positive")
CONTEXT_CHARS = 400  # characters kept each side of the aspect: enough context, bounded cost
MAX_TOKENS = 192
MAX_TERM_CHARS = 80  # the second segment names the aspect; a whole-post target is clipped


@dataclass(frozen=True, slots=True)
class Target:
    text: str
    start: int
    end: int


def marked_input(target: Target, window: int = CONTEXT_CHARS) -> tuple[str, str]:
    """(marked context, term) with the context clipped to `window` chars around the aspect."""
    text, s, e = target.text, target.start, target.end
    lo, hi = max(0, s - window), min(len(text), e + window)
    term = text[s:e]
    if len(term) > 2 * window:  # a whole-post target: keep its opening
        return f"[ {term[: 2 * window]} ]", term[:MAX_TERM_CHARS]
    return f"{text[lo:s]} [ {term} ] {text[e:hi]}", term[:MAX_TERM_CHARS]


def plain_input(target: Target, window: int = CONTEXT_CHARS) -> tuple[str, str]:
    text, s, e = target.text, target.start, target.end
    lo, hi = max(0, s - window), min(len(text), e + window)
    return text[lo:hi], text[s:e][:MAX_TERM_CHARS]


def encode_targets(tokenizer, targets: list[Target], input_style: str = "marked"):
    """Token ids for (context, term) pairs — the one encoding used in training and inference."""
    build = marked_input if input_style == "marked" else plain_input
    pairs = [build(t) for t in targets]
    return tokenizer(
        [p[0] for p in pairs],
        [p[1] for p in pairs],
        truncation="longest_first",
        max_length=MAX_TOKENS,
    )


def most_likely(probabilities: list[dict]) -> list[tuple[str, float]]:
    """(label, its probability) for each {label: probability} reading."""
    out = []
    for probs in probabilities:
        label = max(probs, key=probs.__getitem__)
        out.append((label, round(probs[label], 4)))
    return out


class PolarityClassifier:
    """Sequence-classification cross-encoder; `classify` returns (polarity, confidence)."""

    def __init__(self, model, tokenizer, version: str, input_style: str = "marked"):
        if input_style not in ("marked", "plain"):
            raise ValueError(f"input_style must be 'marked' or 'plain', got {input_style!r}")
        self.model = model
        self.tokenizer = tokenizer
        self.version = version
        self.input_style = input_style
        id2label = getattr(model.config, "id2label", None) or {}
        names = [str(id2label.get(i, "")).lower() for i in range(model.config.num_labels)]
        if set(CLASSES) <= set(names):
            self.index_to_class = {i: n for i, n in enumerate(names) if n in CLASSES}
        else:  # our own heads are trained in CLASSES order
            self.index_to_class = dict(enumerate(CLASSES))

    def encode(self, targets: list[Target]):
        return encode_targets(self.tokenizer, targets, self.input_style)

    def classify(self, targets: list[Target], batch_size: int = 64) -> list[tuple[str, float]]:
        """(polarity, confidence) per target, confidence = the model's probability of it."""
        return most_likely(self.probabilities(targets, batch_size))

    def probabilities(self, targets: list[Target], batch_size: int = 64) -> list[dict]:
        """{polarity: probability} per target (the three classes, summing to 1)."""
        import torch

        if not targets:
            return []
        enc = self.encode(targets)
        order = sorted(range(len(targets)), key=lambda i: len(enc["input_ids"][i]))
        out: list[dict] = [{}] * len(targets)
        device = next(self.model.parameters()).device
        columns = sorted(self.index_to_class)
        names = [self.index_to_class[c] for c in columns]
        allowed = torch.tensor(columns, device=device)
        for b in range(0, len(order), batch_size):
            idx = order[b : b + batch_size]
            feats = {k: [enc[k][i] for i in idx] for k in enc}
            batch = self.tokenizer.pad(feats, return_tensors="pt")
            with torch.inference_mode():
                logits = self.model(**{k: v.to(device) for k, v in batch.items()}).logits
            probs = logits.float().softmax(-1)[:, allowed]
            probs = (probs / probs.sum(-1, keepdim=True)).tolist()
            for row, i in enumerate(idx):
                out[i] = dict(zip(names, probs[row], strict=True))
        return out
