"""``nerstudio --self-test``: prove an installation works without opening a window.

Opens a temporary project, imports a few sentences, loads the embedded model (offline), predicts
on a sentence, checks that the Qt layer imports, and prints one line. Exit 0 on success."""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path


def self_test() -> int:
    t0 = time.perf_counter()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    step = "start"
    try:
        from .core.formats import import_file
        from .core.inference import Predictor
        from .core.store import ProjectStore

        with tempfile.TemporaryDirectory() as tmp:
            step = "project"
            data = Path(tmp) / "sample.conll"
            data.write_text("Angela B-PER\nMerkel I-PER\nvisited O\nParis B-LOC\n. O\n\n"
                            "Apple B-ORG\nhired O\nJohn B-PER\n. O\n", encoding="utf-8")
            with ProjectStore.create(Path(tmp) / "selftest.nerproj") as store:
                n = import_file(store, data)
                assert store.count() == n == 2
            step = "model"
            predictor = Predictor("embedded").load()
            step = "predict"
            predictor.predict_text("Angela Merkel visited Paris.")
            words = predictor.predict_words([["Angela", "Merkel", "visited", "Paris", "."]])[0]
            assert len(words.tags) == 5
        step = "qt"
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from .ui import resources_dir

        assert (resources_dir() / "icons" / "nerstudio.svg").exists()
        import PySide6.QtWidgets  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - the one line is the point
        print(f"nerstudio self-test FAILED at {step}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    import torch

    print(f"nerstudio self-test ok: project, import, embedded model ({len(predictor.tags)} tags), "
          f"prediction, Qt; torch {torch.__version__}; {time.perf_counter() - t0:.1f} s")
    return 0
