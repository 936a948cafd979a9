"""Event-loop stalls on the GUI thread while the embedded model trains on CoNLL-2003.

Usage: python benchmarks/bench_gui_training.py [--steps N] [CONLL_DIR]   (offscreen)
A 10 ms QTimer on the GUI thread records how late each tick fires (a stall) from the click on
Train until the run ends (data loading, tokenization, training steps, evaluation, checkpoint).
The app's start-up warm-up (importing torch on a worker thread) is done before the click.
Targets (issue 6): 99th percentile < 50 ms, no stall > 250 ms.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data", nargs="?", type=Path,
                    default=ROOT.parent / "shared" / "data" / "conll2003")
    ap.add_argument("--steps", type=int, default=200, help="optimizer steps (-1: 3 full epochs)")
    a = ap.parse_args()
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from nerstudio.core.formats import import_file
    from nerstudio.core.store import ProjectStore
    from nerstudio.core.training import TrainConfig
    from nerstudio.ui.app import create_window

    work = Path(tempfile.mkdtemp(prefix="bench_gui_training_"))
    project = work / "conll.nerproj"
    with ProjectStore.create(project) as store:
        for name in ("train", "valid"):
            import_file(store, a.data / f"{name}.txt")
    app = QApplication.instance() or QApplication([])
    window = create_window(str(project), QSettings(str(work / "s.ini"), QSettings.IniFormat), False)
    window.show()
    window.tabs.setCurrentWidget(window.train_view)
    warm = QEventLoop()  # the app imports torch on a worker thread at start-up; then Train
    window.train_view._warm.finished.connect(warm.quit)
    if window.train_view._warm.thread.isRunning():
        warm.exec()

    stalls, clock, interval = [], QElapsedTimer(), 10
    timer = QTimer()
    timer.setInterval(interval)

    def tick():
        elapsed = clock.restart()
        stalls.append(max(0, elapsed - interval))

    timer.timeout.connect(tick)
    config = TrainConfig(max_steps=a.steps, eval_every="100" if a.steps > 0 else "epoch",
                         keep_core_free=True)
    t0 = time.perf_counter()
    clock.start()
    timer.start()
    worker = window.train_view.start(config)
    done, loop = [], QEventLoop()
    worker.finished.connect(lambda r: (done.append(r), loop.quit()))
    worker.failed.connect(lambda r: (done.append(r), loop.quit()))
    loop.exec()  # the GUI's own event loop, as in the app
    timer.stop()
    seconds = time.perf_counter() - t0
    stalls.sort()
    p99 = stalls[int(len(stalls) * 0.99) - 1]
    print(f"training run: {seconds:.0f} s, {len(window.train_view.loss_x)} loss points, "
          f"{len(window.train_view.evals)} evaluations, result {type(done[0][1]).__name__}")
    print(f"GUI event-loop stalls over {len(stalls)} ticks: median {statistics.median(stalls):.1f} ms, "
          f"p99 {p99:.1f} ms (target < 50), max {stalls[-1]:.1f} ms (target < 250)")
    window.close()


if __name__ == "__main__":
    main()
