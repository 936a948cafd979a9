"""Inference: text to entities with exact character offsets and confidences.

Raw text goes through the same tokenizer as annotation (so predictions land on the Tokens a user
labels), is split into sentences, and runs through the model in length-sorted batches; each word
takes the prediction of its first subword; the word tags are repaired to valid IOB2 and turned
into spans. A sentence longer than the model's limit is cut into overlapping windows, each word
taking its prediction from the window where it has the most context on both sides.

Loads any Hugging Face token-classification folder (a nerstudio run's ``model`` folder, or a hub
model when online) with safetensors and without remote code.
"""
from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import NerStudioError
from .iob import repair_iob2, tags_to_spans
from .tokenize import split_sentences, tokenize


def normalise_tag(tag: str) -> str:
    """A model's label as an IOB2 tag: BIOES S-/E- (or U-/L-) become B-/I-, and a bare label
    (an IO-scheme model's ``PER``, an untrained head's ``LABEL_3``) becomes I-, which the IOB2
    repair turns into B- at the start of a run."""
    if tag == "O" or tag[:2] in ("B-", "I-"):
        return tag
    if tag[:2] in ("S-", "U-"):
        return "B-" + tag[2:]
    if tag[:2] in ("E-", "L-"):
        return "I-" + tag[2:]
    return "I-" + tag.replace(" ", "_")


@dataclass(frozen=True)
class Entity:
    label: str
    start: int          # character offsets into the text given
    end: int
    text: str
    score: float        # mean over the entity's words of the probability of their tag
    token_start: int    # token indices within the whole text's tokens
    token_end: int


@dataclass(frozen=True)
class WordPrediction:
    tags: list[str]
    # per word, a probability per tag (in ``Predictor.tags`` order); from
    # ``predict_words(summary=True)`` only the two largest, highest first (what spans, MNLP and
    # the margin need: a model with 10,000 labels would otherwise keep 20,001 floats a word)
    probs: list[list[float]]
    summary_uncertainty: tuple[float, float] | None = None  # from the full rows, when summarised

    def spans(self) -> list[tuple[int, int, str, float]]:
        """IOB2-repaired spans (start, end, label, score) over this sentence's words."""
        out = []
        for sp in tags_to_spans(repair_iob2(self.tags)):
            scores = [max(self.probs[i]) for i in range(sp.start, sp.end)]
            out.append((sp.start, sp.end, sp.label, sum(scores) / len(scores)))
        return out

    def uncertainty(self) -> tuple[float, float]:
        """(mean word entropy, lowest margin between the two likeliest tags): what active
        learning sorts by (high entropy / low margin first)."""
        if self.summary_uncertainty is not None:
            return self.summary_uncertainty
        if not self.probs:
            return 0.0, 1.0
        ent, margin = 0.0, 1.0
        for p in self.probs:
            ent -= sum(x * math.log(x) for x in p if x > 0)
            top = sorted(p, reverse=True)
            margin = min(margin, top[0] - (top[1] if len(top) > 1 else 0.0))
        return ent / len(self.probs), margin


class Predictor:
    """Loads a token-classification model once (lazily, on first use) and tags text."""

    def __init__(self, model_dir: str | Path, device: str | None = None, batch_size: int = 64,
                 max_length: int = 512, threads: int = 0, token_budget: int = 4096,
                 cache_sentences: int = 0, precision: str = "auto"):
        """``cache_sentences``: how many sentences' predictions :meth:`predict_text` keeps (least
        recently used dropped first), so text edited in the playground only runs the sentences
        that changed. 0 (the default) keeps none: every call runs the model on all of it.

        ``precision``: "auto" predicts on a CPU with the model's int8 export (:mod:`.int8`,
        built once and kept) when ONNX Runtime is installed, in fp32 otherwise and on a GPU;
        "fp32" always in fp32 (the MC-dropout passes of the review are always fp32)."""
        if precision not in ("auto", "fp32", "int8"):
            raise NerStudioError(f"precision {precision!r}: choose auto, fp32 or int8")
        self.precision = precision
        self._int8 = None
        self.cache_sentences = cache_sentences
        self._cache: OrderedDict[tuple[str, ...], WordPrediction] = OrderedDict()
        self._cache_lock = threading.Lock()
        self.model_dir = str(model_dir)
        self.device_request = device
        self.batch_size = batch_size
        self.token_budget = token_budget
        self.max_length = max_length
        self.threads = threads
        self._model = None
        self._tokenizer = None
        self.tags: list[str] = []

    # -- loading ------------------------------------------------------------------------------
    def load(self) -> "Predictor":
        if self._model is not None:
            return self
        import torch
        import transformers
        from transformers import AutoModelForTokenClassification

        from .training.failures import TrainingFailed
        from .training.loading import check_vocabulary, load_tokenizer, resolve_base_model

        from .quiet import quiet_loaded

        quiet_loaded()  # load reports are noise (unless --verbose)
        path = resolve_base_model(self.model_dir) if self.model_dir == "embedded" else self.model_dir
        try:
            self._tokenizer = load_tokenizer(path)
            model = AutoModelForTokenClassification.from_pretrained(
                path, use_safetensors=True, trust_remote_code=False)
            check_vocabulary(self._tokenizer, model, self.model_dir)
        except (TrainingFailed, OSError, ValueError) as exc:
            text = str(exc)  # a reason that names the folder already is one line as it is
            raise NerStudioError(text if text.startswith(f"{self.model_dir}: ") else
                                 f"cannot load model {self.model_dir}: {text}") from exc
        if self.threads:
            torch.set_num_threads(self.threads)
        device = self.device_request or ("cuda" if torch.cuda.is_available() else "cpu")
        self.device = torch.device(device)
        self._model = model.to(self.device).eval()
        self._int8 = self._load_int8(path, model)
        self.tags = [normalise_tag(model.config.id2label[i]) for i in range(model.config.num_labels)]
        limit = getattr(model.config, "max_position_embeddings", 512) or 512
        self.max_length = min(self.max_length, limit)
        return self

    def _load_int8(self, path, model):
        """The int8 model for a CPU (see ``precision``), or None: predict with ``model``."""
        from . import int8

        if self.precision == "fp32" or self.device.type != "cpu" or not Path(path).is_dir():
            return None
        if not int8.available():
            if self.precision == "int8":
                raise NerStudioError("int8 prediction needs ONNX Runtime: pip install "
                                     "onnxruntime onnx")
            return None
        built = int8.build(path, model)
        if built is None and self.precision == "int8":
            raise NerStudioError(f"{self.model_dir}: this model could not be exported to int8")
        return int8.Int8Logits(built, self.threads) if built is not None else None

    @property
    def int8(self) -> bool:
        """Whether predictions run on the int8 model."""
        self.load()
        return self._int8 is not None

    @property
    def labels(self) -> list[str]:
        self.load()
        return list(dict.fromkeys(t[2:] for t in self.tags if t != "O"))

    # -- words -> tags ------------------------------------------------------------------------
    def predict_words(self, sentences: Sequence[Sequence[str]],
                      on_progress: Callable[[int], None] | None = None,
                      should_stop: Callable[[], bool] = lambda: False, *,
                      dropout_passes: int = 0, seed: int = 0,
                      summary: bool = False) -> list[WordPrediction]:
        """Tag pre-tokenized sentences. Batches are formed by length (little padding).

        ``summary``: keep per word only the two largest probabilities (and the uncertainty,
        computed from the whole rows): what spans and the active order need, in a few bytes a
        word whatever the number of labels (pre-annotation of a whole project).

        ``dropout_passes`` > 0: each batch runs that many times with dropout on (seeded) and
        the probabilities are averaged (MC dropout): a smoother estimate of the model's
        uncertainty than one deterministic pass, which the label-error review ranks by."""
        self.load()
        import torch

        if dropout_passes:
            cuda = [self.device.index or 0] if self.device.type == "cuda" else []
            with torch.random.fork_rng(devices=cuda):
                torch.manual_seed(seed)
                self._model.train()
                try:
                    return self._predict_words(sentences, on_progress, should_stop,
                                               dropout_passes, summary)
                finally:
                    self._model.eval()
        return self._predict_words(sentences, on_progress, should_stop, 1, summary)

    def _predict_words(self, sentences, on_progress, should_stop, passes: int,
                       summary: bool = False):
        import torch

        pieces = self._windows(sentences)
        order = sorted(range(len(pieces)), key=lambda k: len(pieces[k][3]))
        n_tags = len(self.tags)
        word_probs: list[list[list[float] | None]] = [[None] * len(s) for s in sentences]
        best_ctx: list[list[tuple]] = [[(-1, 0)] * len(s) for s in sentences]
        done = 0
        with torch.inference_mode():
            for batch in self._batches([pieces[k] for k in order]):
                if should_stop():
                    break
                width = max(len(p[3]) for p in batch)
                ids = torch.full((len(batch), width), self._tokenizer.pad_token_id or 0)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                for r, p in enumerate(batch):
                    ids[r, :len(p[3])] = torch.tensor(p[3])
                    mask[r, :len(p[3])] = 1
                ids, mask = ids.to(self.device), mask.to(self.device)
                probs = sum(torch.softmax(self._logits(ids, mask).float(), -1)
                            for _ in range(passes))
                probs = (probs / passes).cpu()
                for r, (s, first, last, _ids, starts) in enumerate(batch):
                    rows = _rows(probs[r, [pos for pos, _w in starts]], summary)
                    for (pos, w), row in zip(starts, rows):
                        # context on the poorer side; on a tie the earlier window wins
                        ctx = (min(w - first, last - 1 - w), -first)
                        if ctx > best_ctx[s][w]:
                            best_ctx[s][w] = ctx
                            word_probs[s][w] = row
                done += len(batch)
                if on_progress:
                    on_progress(done)
        if summary:
            return [_summarised(rows, self.tags) for rows in word_probs]
        out = []
        for probs in word_probs:
            probs = [p if p is not None else [1.0] + [0.0] * (n_tags - 1) for p in probs]
            out.append(WordPrediction([self.tags[max(range(n_tags), key=p.__getitem__)]
                                       for p in probs], probs))
        return out

    def _logits(self, ids, mask):
        """One forward pass: the int8 model on a CPU, the torch model otherwise and for the
        MC-dropout passes (the model in train mode: an exported graph has no dropout)."""
        if self._int8 is not None and not self._model.training:
            return self._int8(ids, mask)
        return self._model(input_ids=ids, attention_mask=mask).logits

    def _batches(self, pieces):
        """Length-sorted pieces in batches of at most ``batch_size`` sequences and
        ``token_budget`` padded tokens, ending a batch where a piece is more than half as long
        again as the batch's shortest (plus 8): a long sentence never drags short ones to its
        length. A corpus's sorted neighbours are about as long as each other, so its batches
        stay full; a pasted text's few sentences of mixed lengths (where padding cost a 1,034-
        word paste 1.6x its time in fp32: benchmarks/bench_predict.py, 7 Dec 2026) split by
        length instead."""
        batch, shortest = [], 0
        for piece in pieces:
            n = len(piece[3])
            if batch and (len(batch) >= self.batch_size or (len(batch) + 1) * n > self.token_budget
                          or n > shortest * 1.5 + 8):
                yield batch
                batch = []
            if not batch:
                shortest = n
            batch.append(piece)
        if batch:
            yield batch

    def _windows(self, sentences):
        """(sentence, first word, end word, input ids, [(position, word)] of first subwords).
        A long sentence becomes windows of whole words, each starting halfway through the one
        before, so every word is seen with context on both sides."""
        tok = self._tokenizer
        budget = self.max_length - tok.num_special_tokens_to_add(pair=False)
        enc = tok([list(s) for s in sentences], is_split_into_words=True)
        pieces = []
        for s, words in enumerate(sentences):
            if not words:
                continue
            wids = enc.word_ids(s)
            if len(wids) <= self.max_length:
                pieces.append((s, 0, len(words), enc["input_ids"][s], _first_subwords(wids, 0)))
                continue
            lens = [0] * len(words)
            for w in wids:
                if w is not None:
                    lens[w] += 1
            for a, b in _overlapping_windows([max(1, n) for n in lens], budget):
                part = tok(list(words[a:b]), is_split_into_words=True, truncation=True,
                           max_length=self.max_length)
                pieces.append((s, a, b, part["input_ids"], _first_subwords(part.word_ids(), a)))
        return pieces

    # -- text -> entities ---------------------------------------------------------------------
    def predict_text(self, text: str) -> list[Entity]:
        """Entities in raw text, with character offsets into ``text``."""
        if not text or not text.strip():
            return []
        tokens = tokenize(text)
        sentences = split_sentences(text, tokens)
        preds = self._predict_cached([tuple(t.text for t in s) for s in sentences])
        entities, base = [], 0
        for sent, pred in zip(sentences, preds):
            for a, b, label, score in pred.spans():
                start, end = sent[a].start, sent[b - 1].end
                entities.append(Entity(label, start, end, text[start:end], score, base + a, base + b))
            base += len(sent)
        return entities

    def _predict_cached(self, sentences: list[tuple[str, ...]]) -> list[WordPrediction]:
        """predict_words, running the model only on sentences not in the cache."""
        if not self.cache_sentences:
            return self.predict_words(sentences)
        unique = list(dict.fromkeys(sentences))
        with self._cache_lock:
            known = {s: self._cache[s] for s in unique if s in self._cache}
        missing = [s for s in unique if s not in known]
        known.update(zip(missing, self.predict_words(missing)) if missing else ())
        with self._cache_lock:
            for s in unique:  # most recently used last; the oldest are dropped
                self._cache[s] = known[s]
                self._cache.move_to_end(s)
            while len(self._cache) > self.cache_sentences:
                self._cache.popitem(last=False)
        return [known[s] for s in sentences]

    def predict_sentences(self, sentences, on_progress=None, should_stop=lambda: False):
        """For bulk pre-annotation: per Sentence, (spans with scores, (entropy, margin))."""
        preds = self.predict_words([s.words for s in sentences], on_progress, should_stop)
        return [(p.spans(), p.uncertainty()) for p in preds]


def _rows(probs, summary: bool) -> list:
    """A sentence's word rows (words x tags) as kept: whole, or (best tag, its two largest
    probabilities, entropy) per word."""
    if not summary:
        return probs.tolist()
    import torch

    top = probs.topk(min(2, probs.shape[-1]), -1).values.tolist()
    entropy = (-(probs * torch.log(probs.clamp_min(1e-30))).sum(-1)).tolist()
    return [(i, (t + [0.0])[:2], e) for i, t, e in zip(probs.argmax(-1).tolist(), top, entropy)]


def _summarised(rows: list, tags: list[str]) -> WordPrediction:
    """A summarised sentence (see :func:`_rows`); a word no window predicted is tag 0, sure."""
    rows = [r if r is not None else (0, [1.0, 0.0], 0.0) for r in rows]
    if not rows:
        return WordPrediction([], [], (0.0, 1.0))
    margin = min([1.0] + [t[0] - t[1] for _i, t, _e in rows])
    return WordPrediction([tags[i] for i, _t, _e in rows], [t for _i, t, _e in rows],
                          (sum(e for _i, _t, e in rows) / len(rows), margin))


def _first_subwords(word_ids, offset: int) -> list[tuple[int, int]]:
    """(position, word index) of each word's first subword."""
    out, prev = [], None
    for pos, w in enumerate(word_ids):
        if w is not None and w != prev:
            out.append((pos, w + offset))
        prev = w
    return out


def _overlapping_windows(lens: list[int], budget: int) -> list[tuple[int, int]]:
    """Word ranges of at most ``budget`` subwords, each starting halfway through the last."""
    out, start = [], 0
    while True:
        end, used = start, 0
        while end < len(lens) and used + lens[end] <= budget:
            used += lens[end]
            end += 1
        end = max(end, start + 1)  # one word longer than the budget: truncated by the tokenizer
        out.append((start, end))
        if end >= len(lens):
            return out
        nxt, acc = start, 0
        while nxt < end and acc + lens[nxt] <= used // 2:
            acc += lens[nxt]
            nxt += 1
        start = max(nxt, start + 1)
