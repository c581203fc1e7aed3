"""The embedded ABSA model: one MiniLM encoder pass per post for aspects *and* their sentiment.

A token head tags aspect spans (BIO). A span-pooling head classifies the sentiment about any
span of the same pass: the mean of the span's own token states, an attention summary of the
post queried by that mean, and [CLS], through a small MLP. The span's contextual states make
it aspect-aware ("battery terrible, screen gorgeous" gets two answers) without re-reading the
post once per aspect, as a marked cross-encoder must.

`JointAbsa` serves as both the engine's tagger and its polarity model: `extract` keeps the
encoder states of the posts it just tagged, so `probabilities` for targets in those posts
(tagged aspects, taxonomy seed terms, the brand mention) costs only the head.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from opinion.nlp.polarity import CLASSES, CONTEXT_CHARS, Target, most_likely
from opinion.nlp.tagger import AspectTagger, bio_labels

MAX_TOKENS = 256


@dataclass(frozen=True, slots=True)
class Window:
    """The slice of a post the encoder reads for a target, and the target inside it."""

    lo: int
    hi: int
    start: int
    end: int


def window_for(target: Target, window: int = CONTEXT_CHARS) -> Window:
    """Short posts are read whole (all their targets share one pass); a long post is read
    `window` characters each side of the target; a target longer than two windows (a whole
    long post) is read from its opening."""
    text, s, e = target.text, target.start, target.end
    if e - s > 2 * window:
        return Window(s, s + 2 * window, s, s + 2 * window)
    if len(text) <= 2 * window + (e - s):
        return Window(0, len(text), s, e)
    return Window(max(0, s - window), min(len(text), e + window), s, e)


def span_mask(offsets: list[tuple[int, int]], start: int, end: int) -> list[int]:
    """1 for the tokens overlapping [start, end); all real tokens when none does (a span
    cut off by truncation still gets an answer, from the whole window)."""
    mask = [1 if a != b and a < end and b > start else 0 for a, b in offsets]
    if not any(mask):
        mask = [1 if a != b else 0 for a, b in offsets]
    return mask


@dataclass(slots=True)
class Row:
    """One encoder row: token ids, the targets read from it (span masks + polarity label
    ids), and BIO tag ids when the row is a tagging example."""

    input_ids: list[int]
    text: str = ""
    masks: list[list[int]] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    tags: list[int] | None = None
    post_label: int | None = None


def target_rows(tokenizer, targets: list[Target], labels: list[int] | None = None):
    """Targets grouped by the window they are read from: (rows, where), `where[i]` = (row,
    position in row) of target i. The one encoding used in training and at inference."""
    keys: dict[tuple[str, int, int], int] = {}
    windows = [window_for(t) for t in targets]
    texts: list[str] = []
    for t, w in zip(targets, windows, strict=True):
        key = (t.text, w.lo, w.hi)
        if key not in keys:
            keys[key] = len(texts)
            texts.append(t.text[w.lo : w.hi])
    enc = tokenizer(texts, truncation=True, max_length=MAX_TOKENS, return_offsets_mapping=True)
    rows = [Row(ids, text) for ids, text in zip(enc["input_ids"], texts, strict=True)]
    where = []
    for i, (t, w) in enumerate(zip(targets, windows, strict=True)):
        r = keys[(t.text, w.lo, w.hi)]
        offsets = [tuple(o) for o in enc["offset_mapping"][r]]
        rows[r].masks.append(span_mask(offsets, w.start - w.lo, w.end - w.lo))
        rows[r].labels.append(labels[i] if labels is not None else -100)
        where.append((r, len(rows[r].masks) - 1))
    return rows, where


def tag_rows(tokenizer, texts: list[str], spans: list[list[tuple[int, int]]]) -> list[Row]:
    """Tagging examples: BIO ids for the gold character spans of each text."""
    rows = []
    for text, gold in zip(texts, spans, strict=True):
        enc = tokenizer(text, truncation=True, max_length=128, return_offsets_mapping=True)
        tags = bio_labels([tuple(o) for o in enc["offset_mapping"]], gold)
        rows.append(Row(enc["input_ids"], text, tags=tags))
    return rows


def post_rows(tokenizer, texts: list[str], labels: list[int]) -> list[Row]:
    """Post-level sentiment examples: the whole text, one label (index into CLASSES)."""
    enc = tokenizer(texts, truncation=True, max_length=128)
    return [
        Row(ids, text, post_label=label)
        for ids, text, label in zip(enc["input_ids"], texts, labels, strict=True)
    ]


def collate(rows: list[Row], pad_id: int = 0) -> dict:
    """Tensors for a batch of rows; `tag_labels` only when some row is a tagging example,
    `post_labels` only when some row is a post-sentiment example."""
    import torch

    width = max(len(r.input_ids) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    tags = torch.full((len(rows), width), -100, dtype=torch.long)
    owner, masks, labels = [], [], []
    for i, row in enumerate(rows):
        n = len(row.input_ids)
        ids[i, :n] = torch.tensor(row.input_ids)
        attention[i, :n] = 1
        if row.tags is not None:
            tags[i, :n] = torch.tensor(row.tags)
        for mask, label in zip(row.masks, row.labels, strict=True):
            owner.append(i)
            masks.append(mask + [0] * (width - n))
            labels.append(label)
    batch = {"input_ids": ids, "attention_mask": attention}
    if owner:
        batch["rows"] = torch.tensor(owner, dtype=torch.long)
        batch["span_mask"] = torch.tensor(masks, dtype=torch.long)
        if any(label != -100 for label in labels):
            batch["labels"] = torch.tensor(labels, dtype=torch.long)
    if any(r.tags is not None for r in rows):
        batch["tag_labels"] = tags
    if any(r.post_label is not None for r in rows):
        batch["post_labels"] = torch.tensor(
            [-100 if r.post_label is None else r.post_label for r in rows], dtype=torch.long
        )
    return batch


@dataclass
class JointOutput:
    states: object
    tag_logits: object
    logits: object = None
    loss: object = None
    post_logits: object = None


def post_features(states, attention_mask):
    """What the post head reads of a row: the mean of its token states and [CLS], joined."""
    import torch

    m = attention_mask.to(states.dtype)
    mean = (states * m[..., None]).sum(1) / m.sum(1, keepdim=True).clamp_min(1)
    return torch.cat([mean, states[:, 0]], -1)


@functools.cache
def _model_class():
    """The nn.Module, defined on first use so importing this module stays torch-free."""
    import math

    import torch
    from torch import nn

    class JointAbsaModel(nn.Module):
        """Encoder + token head + span-pooling head. The heads live under `classifier.`
        (stored in full by `delta.save_delta`; the encoder as a delta against the base)."""

        def __init__(self, encoder):
            super().__init__()
            self.encoder = encoder
            self.config = encoder.config
            h = encoder.config.hidden_size
            self.classifier = nn.ModuleDict(
                {
                    "tags": nn.Linear(h, 3),
                    "query": nn.Linear(h, h),
                    "hidden": nn.Linear(3 * h, h),
                    "out": nn.Linear(h, len(CLASSES)),
                    "post_hidden": nn.Linear(2 * h, h),
                    "post_out": nn.Linear(h, len(CLASSES)),
                }
            )
            self.dropout = nn.Dropout(0.1)
            self.tag_weight = 1.0  # training only: the tagging loss's share of the sum
            self.post_weight = 1.0  # training only: the post-sentiment loss's share
            self.post_class_weight = None  # training only: per-class weights (imbalance)

        def post_logits(self, states, attention_mask):
            """Post-level polarity logits: mean of the row's token states and [CLS]."""
            return self.post_head(post_features(states, attention_mask))

        def post_head(self, features):
            """The post head alone, on `post_features` (what `opinion train --post-labels`
            refits over a frozen encoder)."""
            hidden = torch.tanh(self.classifier["post_hidden"](self.dropout(features)))
            return self.classifier["post_out"](self.dropout(hidden))

        def span_logits(self, states, attention_mask, rows, span_mask):
            """Polarity logits for spans (row index + token mask) over encoder states."""
            h, attn = states[rows], attention_mask[rows]
            m = span_mask.to(h.dtype)
            span = (h * m[..., None]).sum(1) / m.sum(1, keepdim=True).clamp_min(1)
            query = self.classifier["query"](span)
            scores = torch.einsum("nth,nh->nt", h, query) / math.sqrt(h.shape[-1])
            scores = scores.masked_fill(attn == 0, -1e4)
            context = (scores.softmax(-1)[..., None] * h).sum(1)
            x = self.dropout(torch.cat([span, context, h[:, 0]], -1))
            return self.classifier["out"](self.dropout(torch.tanh(self.classifier["hidden"](x))))

        def forward(
            self,
            input_ids,
            attention_mask,
            rows=None,
            span_mask=None,
            labels=None,
            tag_labels=None,
            post_labels=None,
        ):
            states = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask
            ).last_hidden_state
            tag_logits = self.classifier["tags"](self.dropout(states))
            logits = None
            if rows is not None:
                logits = self.span_logits(states, attention_mask, rows, span_mask)
            loss = None
            if tag_labels is not None:
                loss = self.tag_weight * nn.functional.cross_entropy(
                    tag_logits.float().reshape(-1, 3), tag_labels.reshape(-1), ignore_index=-100
                )
            if labels is not None:
                pol = nn.functional.cross_entropy(logits.float(), labels)
                loss = pol if loss is None else loss + pol
            post = None
            if post_labels is not None:
                post = self.post_logits(states, attention_mask)
                post_loss = self.post_weight * nn.functional.cross_entropy(
                    post.float(), post_labels, weight=self.post_class_weight, ignore_index=-100
                )
                loss = post_loss if loss is None else loss + post_loss
            return JointOutput(states, tag_logits, logits, loss, post)

    return JointAbsaModel


def new_model(encoder_dir):
    """The joint model on a freshly loaded encoder (no pooler: the heads pool themselves)."""
    from transformers import AutoModel

    encoder = AutoModel.from_pretrained(encoder_dir, add_pooling_layer=False)
    return _model_class()(encoder)


class JointAbsa(AspectTagger):
    """Tagger *and* polarity model over one joint network (see the module docstring)."""

    def __init__(
        self,
        model,
        tokenizer,
        version: str,
        post_head: bool = False,
        encoder_version: str | None = None,
    ):
        super().__init__(model, tokenizer, version)
        # what heads fitted on the encoder's states depend on (the category and root-cause
        # heads): a refit post head changes `version`, not this
        self.encoder_version = encoder_version or version
        self._states: dict[str, object] = {}  # text -> encoder states of its last tagging
        # whether the post-sentiment head was trained (files from before it was added lack
        # it; the engine then reads the whole post with the span head)
        self.post_head = post_head

    def _tag_logits(self, input_ids, attention_mask, whole_texts: list[str | None]):
        if len(self._states) > 4096:  # bounded: only the latest batches are worth keeping
            self._states.clear()
        out = self.model.forward(input_ids, attention_mask)
        lengths = attention_mask.sum(1).tolist()
        for i, text in enumerate(whole_texts):
            if text is not None:
                self._states[text] = out.states[i, : lengths[i]]
        return out.tag_logits

    def extract(self, texts: list[str], batch_size: int = 64):
        self.forget_states()
        return super().extract(texts, batch_size)

    def forget_states(self) -> None:
        """Drop the kept encoder states: the next `probabilities` encodes every row itself."""
        self._states.clear()

    def _kept_states(self, row: Row):
        states = self._states.get(row.text)
        return states if states is not None and len(states) == len(row.input_ids) else None

    def classify(self, targets: list[Target], batch_size: int = 64) -> list[tuple[str, float]]:
        """(polarity, confidence) per target, confidence = the model's probability of it."""
        return most_likely(self.probabilities(targets, batch_size))

    def probabilities(self, targets: list[Target], batch_size: int = 64) -> list[dict]:
        """{polarity: probability} per target, in order. Rows whose post was just tagged
        whole reuse its states; the rest are encoded here."""
        import torch

        if not targets:
            return []
        rows, where = target_rows(self.tokenizer, targets)
        device = next(self.model.parameters()).device
        pad = self.tokenizer.pad_token_id or 0
        kept = [self._kept_states(r) for r in rows]
        order = sorted(range(len(rows)), key=lambda i: (kept[i] is None, len(rows[i].input_ids)))
        row_probs: dict[int, list[list[float]]] = {}
        for b in range(0, len(order), batch_size):
            idx = order[b : b + batch_size]
            batch = {k: v.to(device) for k, v in collate([rows[i] for i in idx], pad).items()}
            with torch.inference_mode():
                if all(kept[i] is not None for i in idx):
                    states = torch.nn.utils.rnn.pad_sequence(
                        [kept[i] for i in idx], batch_first=True
                    )
                    logits = self.model.span_logits(
                        states, batch["attention_mask"], batch["rows"], batch["span_mask"]
                    )
                else:
                    batch.pop("labels", None)
                    logits = self.model(**batch).logits
            probs = logits.float().softmax(-1).tolist()
            k = 0
            for i in idx:
                n = len(rows[i].masks)
                row_probs[i] = probs[k : k + n]
                k += n
        return [dict(zip(CLASSES, row_probs[r][j], strict=True)) for r, j in where]

    def post_probabilities(self, texts: list[str], batch_size: int = 64) -> list[dict]:
        """Post-level {polarity: probability} per text from the post head (trained on
        post-level labels). Texts just tagged whole reuse their encoder states (no tokenising,
        no encoder pass); the rest are encoded here."""
        rows = self._post_pass(
            texts, batch_size, lambda s, a: self.model.post_logits(s, a).float().softmax(-1)
        )
        return [dict(zip(CLASSES, r.tolist(), strict=True)) for r in rows]

    def post_features(self, texts: list[str], batch_size: int = 64, keep_dtype: bool = False):
        """The post head's input per text (`post_features`: mean of token states and [CLS]),
        one CPU row per text, float32 (`keep_dtype`: the dtype the model computes in): a
        frozen encoder's reading, computed once so that `opinion train --post-labels` fits
        the head alone."""
        import torch

        if not texts:
            return torch.zeros((0, 2 * self.model.config.hidden_size))
        rows = self._post_pass(texts, batch_size, lambda s, a: post_features(s, a).cpu())
        out = torch.stack(rows)
        return out if keep_dtype else out.float()

    def _post_pass(self, texts: list[str], batch_size: int, head) -> list:
        """`head(states, attention_mask)` per text, from kept states where the text was just
        tagged whole, else from an encoder pass; batches sorted by length."""
        import torch

        if not texts:
            return []
        kept = [self._states.get(t) for t in texts]
        missing = [i for i, k in enumerate(kept) if k is None]
        ids: dict[int, list[int]] = {}
        if missing:
            enc = self.tokenizer(
                [texts[i] for i in missing], truncation=True, max_length=MAX_TOKENS
            )
            ids = dict(zip(missing, enc["input_ids"], strict=True))
        length = [len(k) if k is not None else len(ids[i]) for i, k in enumerate(kept)]
        device = next(self.model.parameters()).device
        pad = self.tokenizer.pad_token_id or 0
        out: list = [None] * len(texts)
        for group in ([i for i in range(len(texts)) if kept[i] is not None], missing):
            group = sorted(group, key=length.__getitem__)
            for b in range(0, len(group), batch_size):
                idx = group[b : b + batch_size]
                attention = torch.zeros((len(idx), max(length[i] for i in idx)), dtype=torch.long)
                for r, i in enumerate(idx):
                    attention[r, : length[i]] = 1
                attention = attention.to(device)
                with torch.inference_mode():
                    if kept[idx[0]] is not None:
                        states = torch.nn.utils.rnn.pad_sequence(
                            [kept[i] for i in idx], batch_first=True
                        )
                    else:
                        batch = collate([Row(ids[i]) for i in idx], pad)["input_ids"]
                        states = self.model.encoder(
                            input_ids=batch.to(device), attention_mask=attention
                        ).last_hidden_state
                    result = head(states, attention)
                for r, i in enumerate(idx):
                    out[i] = result[r]
        return out
