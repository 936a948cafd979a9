"""Draw the README's active-learning chart from ``bench_active.py``'s JSON (issue #15 item 4).

Usage: python benchmarks/plot_active.py [--json benchmarks/results/bench_active.json]
       [--out docs/bench_active.png]

Dev F1 (mean over the seeds, with each seed's points faint) against the number of labelled
sentences, random order vs nerstudio's active order. Drawn with pyqtgraph (the app's own chart
library) on an offscreen Qt platform, so no display and no matplotlib are needed.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLOURS = {"random": (120, 120, 120), "active": (31, 119, 180)}


def curves(rounds: list[dict]) -> dict[str, dict[int, list[float]]]:
    """strategy -> labelled size -> F1 of each seed."""
    out: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rounds:
        out[r["strategy"]][r["n"]].append(r["f1"])
    return out


def chart(title: str, bottom: str, left: str):
    """An offscreen 720x420 pyqtgraph chart on white, with its title, axis labels and grid:
    (plot widget, plot item). Shared with plot_session.py."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import pyqtgraph as pg
    from PySide6.QtWidgets import QApplication

    QApplication.instance() or QApplication([])
    pg.setConfigOptions(antialias=True, background="w", foreground="k")
    plot = pg.PlotWidget()
    plot.resize(720, 420)
    item = plot.getPlotItem()
    item.setTitle(title)
    item.setLabel("bottom", bottom)
    item.setLabel("left", left)
    item.showGrid(x=True, y=True, alpha=0.3)
    item.getAxis("left").enableAutoSIPrefix(False)
    return plot, item


def export(plot, out: Path) -> None:
    """Write the chart to ``out`` as a 720-pixel-wide PNG."""
    import pyqtgraph.exporters
    from PySide6.QtWidgets import QApplication

    out.parent.mkdir(parents=True, exist_ok=True)
    plot.show()
    QApplication.instance().processEvents()
    exporter = pyqtgraph.exporters.ImageExporter(plot.scene())
    exporter.parameters()["width"] = 720
    exporter.export(str(out))


def draw(data: dict, out: Path) -> None:
    import pyqtgraph as pg

    rounds = data["active_learning"]["rounds"]
    seeds = sorted({r["seed"] for r in rounds})
    n_seeds = f"{len(seeds)} seed" + ("s" if len(seeds) != 1 else "")
    plot, item = chart(f"Active learning on CoNLL-2003 (simulated annotator, {n_seeds})",
                       "labelled sentences", "dev F1")
    legend = item.addLegend(offset=(-10, -10))
    for strategy, by_n in sorted(curves(rounds).items()):
        colour = COLOURS.get(strategy, (200, 80, 40))
        for seed in seeds:
            pts = sorted((r["n"], r["f1"]) for r in rounds
                         if r["strategy"] == strategy and r["seed"] == seed)
            if pts:
                item.plot([p[0] for p in pts], [p[1] for p in pts],
                          pen=pg.mkPen((*colour, 70), width=1))
        xs = sorted(by_n)
        ys = [statistics.mean(by_n[n]) for n in xs]
        curve = item.plot(xs, ys, pen=pg.mkPen(colour, width=3), symbol="o",
                          symbolBrush=colour, symbolSize=7)
        legend.addItem(curve, f"{strategy} order (mean)")
    export(plot, out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" /
                    "bench_active.json")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "bench_active.png")
    a = ap.parse_args()
    draw(json.loads(a.json.read_text()), a.out)
    print(a.out)


if __name__ == "__main__":
    main()
