"""Layering rules: the core never imports Qt; heavy ML libraries load lazily."""
import ast
import subprocess
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parents[1] / "nerstudio" / "core"
LAZY_ONLY = {"torch", "transformers", "datasets", "accelerate", "seqeval", "spacy"}
# Modules that subclass torch classes, imported only inside functions of the training engine.
TORCH_MODULES = {CORE / "training" / name for name in ("sparse.py",)}


def _imports(path: Path, top_level_only: bool):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    for node in nodes:
        if isinstance(node, ast.Import):
            yield from (a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module.split(".")[0]


def test_core_never_imports_qt():
    offenders = [str(p) for p in CORE.rglob("*.py")
                 if {"PySide6", "PyQt5", "PyQt6", "pyqtgraph"} & set(_imports(p, False))]
    assert not offenders, f"Qt imported in the core: {offenders}"


def test_ml_libraries_are_not_imported_at_module_level():
    offenders = [str(p) for p in CORE.rglob("*.py")
                 if p not in TORCH_MODULES and LAZY_ONLY & set(_imports(p, True))]
    assert not offenders, f"heavy imports at module level: {offenders}"


def test_cli_and_store_start_without_torch():
    code = ("import sys, nerstudio.cli, nerstudio.core.store, nerstudio.core.formats, "
            "nerstudio.core.training, nerstudio.core.inference, nerstudio.core.runs; "
            "bad = {'torch', 'transformers', 'PySide6', 'datasets'} & set(sys.modules); "
            "print(sorted(bad)); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
