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


# -- issue #26 item 3: no import cycle inside nerstudio/ ------------------------------------------
PACKAGE = CORE.parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """nerstudio module -> the nerstudio modules it imports, anywhere in the file (a lazy
    import inside a function counts: it is a cycle all the same, only deferred)."""
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {m: set() for m in files}
    for mod, path in files.items():
        base = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                stem = (".".join(base[:len(base) - node.level + 1] + [node.module or ""])
                        if node.level else node.module or "").strip(".")
                targets = [f"{stem}.{a.name}" for a in node.names] + [stem]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            for target in targets:
                while target not in files and "." in target:
                    target = target.rsplit(".", 1)[0]
                if target in files and target != mod:
                    graph[mod].add(target)
                    break
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    graph = import_graph()
    assert "nerstudio.core.store" in graph["nerstudio.cli"] or any(
        "nerstudio.core" in m for m in graph["nerstudio.cli"])


def test_no_import_cycle_inside_nerstudio():
    found = cycles(import_graph())
    assert not found, f"import cycles: {found}"


# -- issue #26 item 6: sizes a successor can read, and a map that names every module ----------------
MAX_FUNCTION_LINES, MAX_MODULE_LINES = 60, 500


def test_no_function_over_60_lines_and_no_module_over_500():
    too_long = []
    for path in PACKAGE.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        name = path.relative_to(PACKAGE.parent)
        if len(source.splitlines()) > MAX_MODULE_LINES:
            too_long.append(f"{name}: {len(source.splitlines())} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    too_long.append(f"{name}:{node.lineno} {node.name}: {lines} lines")
    assert not too_long, too_long


def test_the_architecture_doc_names_every_module():
    """docs/ARCHITECTURE.md is the map: every module of nerstudio/ is named in it (as
    `path/name.py` relative to nerstudio/, core/ or ui/), so none is found only by grep."""
    doc = (PACKAGE.parent / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    missing = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "__init__.py" and path.parent != PACKAGE / "ui":
            continue
        rel = path.relative_to(PACKAGE)
        forms = {str(rel), *(str(rel.relative_to(top)) for top in ("core", "ui")
                             if rel.parts[0] == top)}
        if not any(f"`{form}`" in doc for form in forms):
            missing.append(str(rel))
    assert not missing, f"modules docs/ARCHITECTURE.md does not name: {sorted(missing)}"
