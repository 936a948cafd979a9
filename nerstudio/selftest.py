"""``nerstudio --self-test``: prove an installation works without opening a window.

Opens a temporary project, imports a few sentences, loads the embedded model (offline), predicts
on a sentence, checks that the Qt layer imports and that Qt's platform plugin can load, and
prints one line. Exit 0 on success.

On Linux the window needs Qt's xcb plugin and the system libraries it links (libxcb-cursor0 and
friends, absent from minimal installs). When one is missing Qt only says "could not load the Qt
platform plugin"; here ``ldd`` on the plugin (and, with a display, a real start in a
subprocess) names the library and the Debian/Ubuntu package to install."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# sonames whose Debian/Ubuntu package does not follow the usual name+version rule
PACKAGE_EXCEPTIONS = {
    "libglib-2.0.so.0": "libglib2.0-0", "libgthread-2.0.so.0": "libglib2.0-0",
    "libgobject-2.0.so.0": "libglib2.0-0", "libGLdispatch.so.0": "libglvnd0",
    "libbrotlicommon.so.1": "libbrotli1", "libbrotlidec.so.1": "libbrotli1",
    "libstdc++.so.6": "libstdc++6", "libgcc_s.so.1": "libgcc-s1",
}
_SONAME = r"(lib[\w.+-]+?\.so(?:\.\d+)*)"
_NOT_FOUND = re.compile(_SONAME + r"\s*=>\s*not found")
_CANNOT_OPEN = re.compile(_SONAME + r": cannot open shared object file")
_QT_NEEDS = re.compile(r"(?:xcb-cursor0 or )?(lib[\w.+-]+) is needed to load the Qt xcb platform")


def missing_libraries(text: str, qt_hint: bool = True) -> list[str]:
    """The shared libraries a loader output says are missing, in order, once each: ``ldd``'s
    "libX.so.N => not found", the dynamic loader's "libX.so.N: cannot open shared object file"
    (Python's ImportError, Qt's QT_DEBUG_PLUGINS=1 output), and Qt's own "libxcb-cursor0 is
    needed to load the Qt xcb platform plugin" (a package name, kept as it is; Qt prints it on
    any failure of the xcb plugin, a wrong DISPLAY too, so ``qt_hint=False`` ignores it)."""
    found = []
    for rx in (_NOT_FOUND, _CANNOT_OPEN) + ((_QT_NEEDS,) if qt_hint else ()):
        found += [m.group(1) for m in rx.finditer(text)]
    return list(dict.fromkeys(found))


def debian_package(soname: str) -> str:
    """The Debian/Ubuntu package that ships a library: libxcb-cursor.so.0 -> libxcb-cursor0,
    libxkbcommon-x11.so.0 -> libxkbcommon-x11-0, libEGL.so.1 -> libegl1 (a name with no ".so"
    is taken to be a package name already)."""
    if soname in PACKAGE_EXCEPTIONS:
        return PACKAGE_EXCEPTIONS[soname]
    m = re.fullmatch(r"(lib[\w.+-]+?)\.so\.(\d+)(?:\.\d+)*", soname)
    if not m:
        return soname
    name, version = m.group(1).lower(), m.group(2)
    return f"{name}-{version}" if name[-1].isdigit() else f"{name}{version}"


def platform_advice(missing: list[str]) -> str:
    """One line: what is missing and the command that installs it."""
    packages = list(dict.fromkeys(debian_package(s) for s in missing))
    return (f"Qt's platform plugin cannot load {', '.join(missing)}: on Debian/Ubuntu run "
            f"`sudo apt-get install {' '.join(packages)}` (other systems: the package that "
            f"provides {missing[0]})")


def xcb_plugin() -> Path | None:
    try:
        import PySide6
    except ImportError:
        return None
    path = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return path if path.exists() else None


def ldd_missing(library: Path) -> list[str]:
    """Libraries ``ldd`` cannot find for ``library`` ([] where there is no ldd)."""
    ldd = shutil.which("ldd")
    if ldd is None:
        return []
    try:
        out = subprocess.run([ldd, str(library)], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return missing_libraries(out.stdout + out.stderr)


_START_QT = ("import sys; from PySide6.QtWidgets import QApplication; "
             "app = QApplication(sys.argv[:1]); print(app.platformName())")


def check_qt_platform(timeout: float = 60) -> tuple[bool, str]:
    """(ok, note). With a display (DISPLAY / WAYLAND_DISPLAY) and no QT_QPA_PLATFORM forced, start
    a QApplication in a subprocess as the app would; without one, only ``ldd`` the xcb plugin
    (the window cannot open there anyway, so a missing library is a note, not a failure).
    On macOS and Windows the subprocess start is always tried."""
    forced = os.environ.get("QT_QPA_PLATFORM", "")
    display = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    if not sys.platform.startswith("linux"):
        display = "native"  # macOS, Windows: there is always one
    plugin = xcb_plugin() if sys.platform.startswith("linux") else None
    missing = ldd_missing(plugin) if plugin is not None else []
    if not display or forced.split(";")[0] in ("offscreen", "minimal", "vnc"):
        if missing:
            return True, f"no display here, and the window will not open: {platform_advice(missing)}"
        return True, "Qt platform not tried (no display)" if not display else ""
    env = dict(os.environ, QT_DEBUG_PLUGINS="1")
    try:
        out = subprocess.run([sys.executable, "-c", _START_QT], capture_output=True, text=True,
                             timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return False, "starting Qt's platform plugin took over a minute (is the display alive?)"
    if out.returncode == 0:
        return True, f"Qt platform {out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ''}"
    missing = missing_libraries(out.stderr, qt_hint=False) or missing
    if missing:
        return False, platform_advice(missing)
    lines = out.stderr.splitlines()
    display = [l for l in lines if "could not connect to display" in l]
    if display:
        return False, (f"Qt {display[-1].split(':', 1)[-1].strip()}: check DISPLAY "
                       f"({os.environ.get('DISPLAY', '')!r}) or run under xvfb-run")
    missing = missing_libraries(out.stderr)
    if missing:
        return False, platform_advice(missing)
    lines = [l for l in lines if "platform plugin" in l] or lines or ["Qt could not start"]
    return False, lines[-1].strip()


def self_test() -> int:
    t0 = time.perf_counter()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from .core.quiet import quiet_loaded

    quiet_loaded()  # quiet, unless the CLI's --verbose called quiet_libraries(verbose=True)
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
        step = "qt platform"
        platform_ok, note = check_qt_platform()
        if not platform_ok:
            print(f"nerstudio self-test FAILED at qt platform: {note}", file=sys.stderr)
            return 1
        step = "qt"
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from .ui import resources_dir

        assert (resources_dir() / "icons" / "nerstudio.svg").exists()
        import PySide6.QtWidgets  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - the one line is the point
        missing = missing_libraries(str(exc)) if isinstance(exc, ImportError) else []
        reason = platform_advice(missing) if missing else f"{type(exc).__name__}: {exc}"
        print(f"nerstudio self-test FAILED at {step}: {reason}", file=sys.stderr)
        return 1
    import torch

    print(f"nerstudio self-test ok: project, import, embedded model ({len(predictor.tags)} tags), "
          f"prediction, Qt{'; ' + note if note else ''}; torch {torch.__version__} "
          f"({_device(torch)}); {time.perf_counter() - t0:.1f} s")
    return 0


def _device(torch) -> str:
    if torch.cuda.is_available():
        return "CUDA"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "MPS"
    return "CPU"
