"""Inference speed: nerstudio's Predictor vs transformers.pipeline, same model, same inputs.

Usage: python benchmarks/bench_predict.py [--model DIR] [--data DIR]
  --model  a token-classification folder (e.g. a run's model/); default: the embedded model with a
           fresh 9-tag head (speed does not depend on the head's weights)
Prints: latency of a 1,000-word pasted text (target < 150 ms on the 2-core CPU, after load; every
sentence through the model), the same text after a one-sentence edit in the playground (sentence
cache: only that sentence runs), bulk
sentences/s over CoNLL-2003 test (target >= 300) against ``pipeline(..., is_split_into_words=True)``
on the same pre-tokenized sentences with the same batch size (32), alternating, median of
``--bulk-repeat`` rounds, and the ratios. Each figure for the fp32 model (torch) and its int8
export (ONNX Runtime, ``core/int8.py``) side by side (issue #28 targets: int8 <= 0.5x fp32's
time, bulk int8 >= 4x the pipeline); with ``--model`` (a model trained on CoNLL-2003's tags)
also both sides' test F1 (target: int8 within 0.3 points of fp32).
"""
import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TAGS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]


def default_model() -> str:
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from nerstudio.core.training.loading import resolve_base_model

    base = resolve_base_model("embedded")
    out = tempfile.mkdtemp(prefix="bench_predict_model_")
    model = AutoModelForTokenClassification.from_pretrained(
        base, num_labels=len(TAGS), id2label=dict(enumerate(TAGS)),
        label2id={t: i for i, t in enumerate(TAGS)})
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(base).save_pretrained(out)
    return out


def timed(fn, repeat):
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _as_before(predictor_class):
    class BatchedAsBefore(predictor_class):
        """The Predictor's batching before 7 Dec 2026 (no length rule), for comparison."""

        def _batches(self, pieces):
            batch = []
            for piece in pieces:
                n = len(piece[3])
                if batch and (len(batch) >= self.batch_size
                              or (len(batch) + 1) * n > self.token_budget):
                    yield batch
                    batch = []
                batch.append(piece)
            if batch:
                yield batch

    return BatchedAsBefore


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "conll2003")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--bulk-repeat", type=int, default=3)
    a = ap.parse_args()
    import transformers
    from transformers import pipeline

    from nerstudio.core.formats import read
    from nerstudio.core.inference import Predictor
    from nerstudio.core.tokenize import split_sentences

    transformers.logging.set_verbosity_error()
    BatchedAsBefore = _as_before(Predictor)
    model = a.model or default_model()
    sentences = [s.words for s in read(a.data / "test.txt") if hasattr(s, "tokens")]
    words, paragraph = 0, []
    for s in sentences[100:]:
        paragraph.append(" ".join(s))
        words += len(s)
        if words >= 1000:
            break
    text = " ".join(paragraph)

    # fp32 (torch) and int8 (ONNX Runtime, core/int8.py) side by side: the same text, the same
    # sentences, timed over the same window, alternating round by round
    sides = {"fp32": Predictor(model, precision="fp32").load(),
             "int8": Predictor(model, precision="int8").load()}
    # the fp32 path as it was before 7 Dec 2026 (batches cut by count and token budget only: a
    # paste of sentences of mixed lengths padded short ones to long ones), for the paste only
    before = {"fp32 before": BatchedAsBefore(model, precision="fp32").load()}
    n_words = len([t for sent in split_sentences(text) for t in sent])
    lat = {name: [] for name in (*sides, *before)}
    for _ in range(a.repeat):
        for name, predictor in {**sides, **before}.items():
            lat[name].append(timed(lambda: predictor.predict_text(text), 1))
    lat = {name: statistics.median(v) for name, v in lat.items()}
    # the playground's predictor keeps per-sentence results: an edit re-runs the edited sentence
    cached = Predictor(model, cache_sentences=4096).load()
    cached.predict_text(text)
    edited = iter([text.replace(" the ", f" the {n} ", 1) for n in range(a.repeat + 1)])
    assert " the " in text
    lat_edit = timed(lambda: cached.predict_text(next(edited)), a.repeat)
    nlp = pipeline("token-classification", model=model, aggregation_strategy="first", device="cpu")
    pieces = [text[s[0].start:s[-1].end] for s in split_sentences(text)]
    lat_pipe = timed(lambda: nlp(pieces, batch_size=32), a.repeat)

    # bulk, like for like: the same pre-tokenized sentences, the same batch size, both sides
    # returning per-word results (the pipeline with is_split_into_words, first-subword
    # aggregation); timed over the same window, alternating, median of --bulk-repeat
    bulk = {name: Predictor(model, batch_size=32, precision=name).load() for name in sides}
    rates = {name: [] for name in (*sides, "pipeline")}
    tagged = {}
    words = [list(s) for s in sentences]
    for _ in range(a.bulk_repeat):
        for name, predictor in bulk.items():
            t = time.perf_counter()
            tagged[name] = predictor.predict_words(sentences)
            rates[name].append(len(sentences) / (time.perf_counter() - t))
        t = time.perf_counter()
        nlp(words, batch_size=32, is_split_into_words=True)
        rates["pipeline"].append(len(sentences) / (time.perf_counter() - t))
    med = {name: statistics.median(v) for name, v in rates.items()}

    def rounds(a_side, b_side):
        r = sorted(x / y for x, y in zip(rates[a_side], rates[b_side]))
        return f"{statistics.median(r):.2f}x (rounds {', '.join(f'{x:.2f}' for x in r)})"

    print(f"model: {model}")
    print(f"pasted text of {n_words} words: fp32 {lat['fp32'] * 1000:.0f} ms, int8 "
          f"{lat['int8'] * 1000:.0f} ms = {lat['int8'] / lat['fp32']:.2f}x fp32's time "
          f"(target <= 0.5); pipeline {lat_pipe * 1000:.0f} ms, {lat_pipe / lat['int8']:.2f}x "
          "int8's time")
    print(f"  fp32 as before 7 Dec 2026 (batches without the length rule) {lat['fp32 before'] * 1000:.0f} ms: "
          f"int8 takes {lat['int8'] / lat['fp32 before']:.2f}x its time, fp32 now "
          f"{lat['fp32'] / lat['fp32 before']:.2f}x")
    print(f"the same text with one sentence edited (playground, sentence cache): "
          f"{lat_edit * 1000:.0f} ms")
    print(f"bulk CoNLL-2003 test ({len(sentences)} sentences, pre-tokenized, batch 32): "
          f"sentences/s fp32 {med['fp32']:.0f}, int8 {med['int8']:.0f}, pipeline "
          f"{med['pipeline']:.0f}; int8 / pipeline {rounds('int8', 'pipeline')} (target >= 4x); "
          f"int8 / fp32 {rounds('int8', 'fp32')}; fp32 / pipeline {rounds('fp32', 'pipeline')}")
    if a.model:
        from nerstudio.core.iob import spans_to_tags
        from nerstudio.core.training.data import entity_metrics

        gold = [spans_to_tags(s.spans, len(s.tokens)) for s in read(a.data / "test.txt")
                if hasattr(s, "tokens")]
        f1 = {name: entity_metrics(gold, [p.tags for p in tagged[name]])["f1"] for name in sides}
        print(f"CoNLL-2003 test F1: fp32 {f1['fp32']:.4f}, int8 {f1['int8']:.4f} "
              f"({(f1['int8'] - f1['fp32']) * 100:+.2f} points; target within 0.3)")


if __name__ == "__main__":
    main()
