"""Inference speed: nerstudio's Predictor vs transformers.pipeline, same model, same inputs.

Usage: python benchmarks/bench_predict.py [--model DIR] [--data DIR]
  --model  a token-classification folder (e.g. a run's model/); default: the embedded model with a
           fresh 9-tag head (speed does not depend on the head's weights)
Prints: latency of a 1,000-word pasted text (target < 150 ms on the 2-core CPU, after load; every
sentence through the model), the same text after a one-sentence edit in the playground (sentence
cache: only that sentence runs), bulk
sentences/s over CoNLL-2003 test (target >= 300) against ``pipeline(..., is_split_into_words=True)``
on the same pre-tokenized sentences with the same batch size (32), alternating, median of
``--bulk-repeat`` rounds, and the ratios (target >= 2x).
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
    model = a.model or default_model()
    sentences = [s.words for s in read(a.data / "test.txt") if hasattr(s, "tokens")]
    words, paragraph = 0, []
    for s in sentences[100:]:
        paragraph.append(" ".join(s))
        words += len(s)
        if words >= 1000:
            break
    text = " ".join(paragraph)

    ours = Predictor(model).load()
    n_words = len([t for sent in split_sentences(text) for t in sent])
    lat_ours = timed(lambda: ours.predict_text(text), a.repeat)
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
    bulk = Predictor(model, batch_size=32).load()
    rates_ours, rates_pipe = [], []
    words = [list(s) for s in sentences]
    for _ in range(a.bulk_repeat):
        t = time.perf_counter()
        bulk.predict_words(sentences)
        rates_ours.append(len(sentences) / (time.perf_counter() - t))
        t = time.perf_counter()
        nlp(words, batch_size=32, is_split_into_words=True)
        rates_pipe.append(len(sentences) / (time.perf_counter() - t))
    bulk_ours, bulk_pipe = statistics.median(rates_ours), statistics.median(rates_pipe)
    ratios = sorted(o / p for o, p in zip(rates_ours, rates_pipe))

    print(f"model: {model}")
    print(f"pasted text of {n_words} words: nerstudio {lat_ours * 1000:.0f} ms (target < 150), "
          f"pipeline {lat_pipe * 1000:.0f} ms, ratio {lat_pipe / lat_ours:.2f}x")
    print(f"the same text with one sentence edited (playground, sentence cache): "
          f"{lat_edit * 1000:.0f} ms")
    print(f"bulk CoNLL-2003 test ({len(sentences)} sentences): nerstudio {bulk_ours:.0f} "
          f"sentences/s (target >= 300), pipeline {bulk_pipe:.0f} sentences/s, ratio "
          f"{statistics.median(ratios):.2f}x (target >= 2x; rounds "
          f"{', '.join(f'{r:.2f}' for r in ratios)}; both pre-tokenized, batch 32)")


if __name__ == "__main__":
    main()
