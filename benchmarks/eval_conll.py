"""Entity-level scores of a saved model on CoNLL-2003 (seqeval, first-subword word tags).

Usage: python benchmarks/eval_conll.py MODEL_DIR [--data DIR] [--split valid|test]
"""
import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "conll2003")
    ap.add_argument("--split", default="test")
    ap.add_argument("--precision", choices=("fp32", "int8"), default="fp32",
                    help="the model as trained (fp32), or the int8 export the app predicts with")
    a = ap.parse_args()
    from nerstudio.core.formats import read
    from nerstudio.core.inference import Predictor
    from nerstudio.core.iob import spans_to_tags
    from nerstudio.core.training.data import entity_metrics

    sents = [s for s in read(a.data / f"{a.split}.txt") if hasattr(s, "tokens")]
    preds = Predictor(a.model, precision=a.precision).predict_words([s.words for s in sents])
    gold = [spans_to_tags(s.spans, len(s.tokens)) for s in sents]
    m = entity_metrics(gold, [p.tags for p in preds])
    m.pop("confusion")
    print(json.dumps({"split": a.split, **{k: round(v, 4) for k, v in m.items() if k != "per_label"},
                      "per_label": {k: round(v["f1"], 4) for k, v in m["per_label"].items()}}))


if __name__ == "__main__":
    main()
