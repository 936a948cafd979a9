"""Training speed: nerstudio vs the reference HF Trainer script, same model, data, sentences.

Usage: python benchmarks/bench_train.py [--steps N] [--epochs E] [--rounds R] [--data DIR] [--model DIR]
  --steps N   train N optimizer steps of batch 16 with each (default 150); speed only
  --epochs E  instead train E full epochs with each and evaluate on the dev set (quality too)
  --rounds R  run nerstudio then the reference R times, alternating, and report the median ratio
              (the machines are shared: alternating spreads a slow spell over both)
  --batch-size B               nerstudio's batch size (default 16, the reference's); --steps
                               then counts batches of 16, so both see the same sentences
  --reference-group-by-length  the reference with transformers' length-grouped batches instead
                               of the recipe's random ones (how much is beyond length grouping)

Both run in this same run of this script, one after the other, on the embedded default model; the
reference is ../shared/bench/hf_trainer_baseline.py (batch 16, random order). Prints sentences/s of
each and the ratio (target: nerstudio >= 2.5x on the 2-core CPU), and with --epochs the dev F1 of
each (target: nerstudio >= reference - 0.005).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def reference(model: str, data: Path, steps: int, epochs: float, grouped: bool = False) -> dict:
    script = ROOT.parent / "shared" / "bench" / "hf_trainer_baseline.py"
    cmd = [sys.executable, str(script), model, str(data), "--bs", "16"]
    cmd += ["--group-by-length"] if grouped else []
    cmd += ["--epochs", str(epochs)] if epochs else ["--max-steps", str(steps), "--no-eval"]
    out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if out.returncode:
        sys.exit(f"reference failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def ours(data: Path, steps: int, epochs: float, batch_size: int = 16) -> dict:
    from nerstudio.core.formats import read
    from nerstudio.core.training import Example, Finished, TrainConfig, train

    def examples(name):
        from nerstudio.core.iob import spans_to_tags
        return [Example(tuple(s.words), tuple(spans_to_tags(s.spans, len(s.tokens))))
                for s in read(data / name) if hasattr(s, "tokens")]

    from nerstudio.core.training import TrainingData
    tags = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
    td = TrainingData(examples("train.txt"), examples("valid.txt"), tags)
    cfg = TrainConfig(batch_size=batch_size, epochs=epochs or 1,
                      max_steps=-1 if epochs else steps * 16 // batch_size,  # same sentences
                      eval_every="epoch" if epochs else "none", logging_steps=50)
    out = Path(tempfile.mkdtemp(prefix="bench_train_"))
    result = train(td, cfg, out)
    if not isinstance(result, Finished):
        sys.exit(f"nerstudio failed: {result}")
    res = {"steps": result.steps, "train_s": round(result.train_s, 1),
           "sents_per_s": round(result.steps * batch_size / result.train_s, 2)}
    if epochs:
        res.update({f"eval_{k}": v for k, v in result.final_metrics.items()})
        res["best_f1"] = result.best_metrics.get("f1")
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--epochs", type=float, default=0)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "conll2003")
    ap.add_argument("--model", default=None)
    ap.add_argument("--skip-reference", action="store_true")
    ap.add_argument("--rounds", type=int, default=1, help="alternate nerstudio / reference runs")
    ap.add_argument("--batch-size", type=int, default=16, help="nerstudio's (the reference's is 16)")
    ap.add_argument("--reference-group-by-length", action="store_true",
                    help="run the reference with transformers' length-grouped batches instead of "
                         "the recipe's random ones")
    a = ap.parse_args()
    from nerstudio.core.training.engine import resolve_base_model
    model = a.model or resolve_base_model("embedded")
    rounds = []
    for r in range(a.rounds):  # alternate, so a slow spell of the machine hits both
        mine = ours(a.data, a.steps, a.epochs, a.batch_size)
        print(f"round {r + 1} nerstudio:", json.dumps(mine), flush=True)
        if a.skip_reference:
            return
        ref = reference(model, a.data, a.steps, a.epochs, a.reference_group_by_length)
        print(f"round {r + 1} reference:", json.dumps(ref), flush=True)
        rounds.append(mine["sents_per_s"] / ref["sents_per_s"])
        print(f"round {r + 1} sentences/s: nerstudio {mine['sents_per_s']:.1f}, reference "
              f"{ref['sents_per_s']:.1f}, ratio {rounds[-1]:.2f}x", flush=True)
    rounds.sort()
    print(f"ratio over {len(rounds)} round(s): median {rounds[len(rounds) // 2]:.2f}x, "
          f"min {rounds[0]:.2f}x, max {rounds[-1]:.2f}x (target >= 2.5x)")
    if a.epochs:
        print(f"dev F1 after {a.epochs:g} epoch(s): nerstudio {mine['eval_f1']:.4f}, reference "
              f"{ref['eval_f1']:.4f}, difference {100 * (mine['eval_f1'] - ref['eval_f1']):+.2f} "
              "points (target >= -0.5)")


if __name__ == "__main__":
    main()
