"""Draw the README's session chart from ``bench_session.py``'s JSON (issue #27 item 1).

Usage: python benchmarks/plot_session.py [--json FILE [FILE ...]] [--out docs/bench_session.png]
       (default: the 8 Dec 2026 run's files, benchmarks/results/bench_session_*_2026-12-08.json)

Dev F1 against the annotator's input events (key presses, clicks, drags), one line per policy and
seed, with the target drawn across. Drawn with pyqtgraph on an offscreen Qt platform, as
``plot_active.py`` does.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from plot_active import chart, export  # noqa: E402
COLOURS = {"manual": (120, 120, 120), "nerstudio": (31, 119, 180)}


def draw(results: list[dict], out: Path, target: float = 0.80) -> None:
    import pyqtgraph as pg
    from PySide6.QtCore import Qt

    seeds = sorted({r["seed"] for r in results})
    plot, item = chart(f"Labelling CoNLL-2003 through the app (simulated annotator, seeds "
                       f"{', '.join(map(str, seeds))})", "input events (keys, clicks, drags)",
                       "dev F1")
    legend = item.addLegend(offset=(-10, 10))
    named = set()
    for r in results:
        colour = COLOURS.get(r["policy"], (200, 80, 40))
        pts = [(0, 0.0)] + [(p["events"], p["f1"]) for p in r["points"]]
        curve = item.plot([p[0] for p in pts], [p[1] for p in pts],
                          pen=pg.mkPen(colour, width=2), symbol="o", symbolBrush=colour,
                          symbolSize=5)
        if r["policy"] not in named:
            named.add(r["policy"])
            legend.addItem(curve, r["policy"])
    item.addLine(y=target, pen=pg.mkPen((200, 80, 40), width=1, style=Qt.DashLine))
    export(plot, out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, nargs="+", default=sorted(
        (ROOT / "benchmarks" / "results").glob("bench_session_*_2026-12-08.json")))
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "bench_session.png")
    ap.add_argument("--target", type=float, default=0.80)
    a = ap.parse_args()
    results = [r for f in a.json for r in json.loads(f.read_text())]
    draw(sorted(results, key=lambda r: (r["policy"], r["seed"])), a.out, a.target)
    print(a.out)


if __name__ == "__main__":
    main()
