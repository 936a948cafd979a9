"""GUI benchmark: open a project holding all of CoNLL-2003, then click-to-label edits.

Usage: python benchmarks/bench_gui.py [CONLL_DIR]   (runs offscreen; no display needed)
Targets (issue 5): the first sentence is shown < 1 s after opening; a click-to-label edit is
committed (and the sentence redrawn) in < 10 ms at the 99th percentile.
"""
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main():
    from PySide6.QtCore import QSettings, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from nerstudio.core.formats import import_file
    from nerstudio.core.store import ProjectStore
    from nerstudio.ui.app import create_window

    data = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data" / "conll2003"
    work = Path(tempfile.mkdtemp(prefix="bench_gui_"))
    project = work / "conll.nerproj"
    with ProjectStore.create(project) as store:
        for name in ("train", "valid", "test"):
            import_file(store, data / f"{name}.txt")
        total = store.count()
    app = QApplication.instance() or QApplication([])
    settings = QSettings(str(work / "settings.ini"), QSettings.IniFormat)

    t0 = time.perf_counter()
    window = create_window(str(project), settings=settings, offer_demo=False)
    window.show()
    app.processEvents()
    shown = window.editor.sentence is not None and window.editor.chips[0].isVisible()
    open_s = time.perf_counter() - t0
    from PySide6.QtCore import QEventLoop  # let the start-up warm-up (torch import) finish
    if window.train_view._warm.thread.isRunning():
        loop = QEventLoop()
        window.train_view._warm.finished.connect(loop.quit)
        loop.exec()

    rng = random.Random(0)
    latencies = []
    for i in range(400):
        if i % 20 == 0:  # move through the project as a user would
            window.table.selectRow(rng.randrange(window.model.rowCount()))
            app.processEvents()
        window.pick_label(rng.randrange(4))
        chip = window.editor.chips[rng.randrange(len(window.editor.chips))]
        t = time.perf_counter()
        QTest.mouseClick(chip, Qt.LeftButton)
        latencies.append((time.perf_counter() - t) * 1000)
        app.processEvents()
    latencies.sort()
    p50, p99 = statistics.median(latencies), latencies[int(len(latencies) * 0.99) - 1]
    print(f"project: {total} sentences")
    print(f"open to first sentence shown: {open_s * 1000:.0f} ms (shown: {shown}; target < 1000 ms)")
    print(f"click-to-label commit: p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {max(latencies):.2f} ms "
          "(target p99 < 10 ms)")
    window.close()


if __name__ == "__main__":
    main()
