import subprocess
import sys


def test_self_test_passes_with_the_embedded_model():
    out = subprocess.run([sys.executable, "-m", "nerstudio", "--self-test"], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nerstudio self-test ok")


def test_resources_found_through_importlib():
    from nerstudio.ui import resources_dir

    icons = resources_dir() / "icons"
    assert (icons / "nerstudio.svg").exists()
    assert all((icons / f"nerstudio-{n}.png").exists() for n in (16, 32, 48, 64, 128, 256))


# -- naming the missing library when Qt's platform plugin cannot load ------------------------------
FAKE_LDD = """\
\tlinux-vdso.so.1 (0x00007ffd5a1f2000)
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x00007f1c2a000000)
\tlibxcb-cursor.so.0 => not found
\tlibxcb-icccm.so.4 => not found
\tlibxkbcommon-x11.so.0 => not found
\tlibEGL.so.1 => not found
\tlibxcb.so.1 => /lib/x86_64-linux-gnu/libxcb.so.1 (0x00007f1c29f00000)
\tlibglib-2.0.so.0 => not found
\tlibxcb-cursor.so.0 => not found
"""


def test_missing_libraries_parsed_from_ldd_output():
    from nerstudio.selftest import debian_package, missing_libraries

    missing = missing_libraries(FAKE_LDD)
    assert missing == ["libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxkbcommon-x11.so.0",
                       "libEGL.so.1", "libglib-2.0.so.0"]
    assert [debian_package(m) for m in missing] == [
        "libxcb-cursor0", "libxcb-icccm4", "libxkbcommon-x11-0", "libegl1", "libglib2.0-0"]
    assert missing_libraries("\tlibxcb.so.1 => /lib/libxcb.so.1 (0x1)\n") == []


def test_missing_library_from_qt_and_loader_messages():
    from nerstudio.selftest import debian_package, missing_libraries, platform_advice

    qt_debug = ('qt.core.library: "/venv/PySide6/Qt/plugins/platforms/libqxcb.so" cannot load: '
                "Cannot load library /venv/PySide6/Qt/plugins/platforms/libqxcb.so: "
                "(libxcb-render-util.so.0: cannot open shared object file: No such file or "
                "directory)\nqt.qpa.plugin: Could not load the Qt platform plugin \"xcb\"")
    assert missing_libraries(qt_debug) == ["libxcb-render-util.so.0"]
    assert debian_package("libxcb-render-util.so.0") == "libxcb-render-util0"
    qt_hint = "qt.qpa.plugin: From 6.5.0, xcb-cursor0 or libxcb-cursor0 is needed to load the " \
              "Qt xcb platform plugin."
    assert missing_libraries(qt_hint) == ["libxcb-cursor0"]
    import_error = "libEGL.so.1: cannot open shared object file: No such file or directory"
    advice = platform_advice(missing_libraries(import_error))
    assert "libEGL.so.1" in advice and "sudo apt-get install libegl1" in advice
    assert "\n" not in advice
    assert debian_package("libdbus-1.so.3") == "libdbus-1-3"
    assert debian_package("libX11-xcb.so.1") == "libx11-xcb1"
    assert debian_package("libfontconfig.so.1") == "libfontconfig1"


def _fake_ldd(tmp_path, monkeypatch):
    import os

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    ldd = bin_dir / "ldd"
    ldd.write_text("#!/bin/sh\ncat <<'EOF'\n" + FAKE_LDD + "EOF\n")
    ldd.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


def test_self_test_platform_check_names_the_missing_library(tmp_path, monkeypatch):
    """ldd (faked) reports libxcb-cursor.so.0 missing. Without a display that is a note on the ok
    line; with a display the app would not start, so it is a failure naming the package."""
    import pytest

    from nerstudio import selftest

    if selftest.xcb_plugin() is None:
        pytest.skip("no xcb plugin in this PySide6 (not Linux)")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    real_ok, real_note = selftest.check_qt_platform()
    if real_note:  # the faked library must be the only one missing
        pytest.skip(f"this machine itself lacks a library of Qt's xcb plugin: {real_note}")
    _fake_ldd(tmp_path, monkeypatch)
    ok, note = selftest.check_qt_platform()
    assert ok and "libxcb-cursor.so.0" in note and "libxcb-cursor0" in note
    monkeypatch.setenv("DISPLAY", ":4711")  # no such display: Qt's start fails, as it would
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    ok, note = selftest.check_qt_platform()
    assert not ok
    assert "sudo apt-get install libxcb-cursor0 libxcb-icccm4 libxkbcommon-x11-0" in note


def test_self_test_platform_check_tells_a_wrong_display_from_a_missing_library(monkeypatch):
    """Qt prints its libxcb-cursor0 hint on any xcb failure; with every library present, a display
    that is not there is reported as such, not as a missing package."""
    import pytest

    from nerstudio import selftest

    if selftest.xcb_plugin() is None or selftest.ldd_missing(selftest.xcb_plugin()):
        pytest.skip("needs Linux with Qt's xcb libraries installed")
    monkeypatch.setenv("DISPLAY", ":4711")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    ok, note = selftest.check_qt_platform()
    assert not ok and "could not connect to display :4711" in note and "apt-get" not in note


def test_self_test_fails_in_one_line_naming_the_package(tmp_path, monkeypatch):
    """`nerstudio --self-test` end to end, with a display and ldd (faked) missing libxcb-cursor:
    exit 1 and one line on stderr that says what to install."""
    import os

    import pytest

    from nerstudio import selftest

    if selftest.xcb_plugin() is None:
        pytest.skip("no xcb plugin in this PySide6 (not Linux)")
    with monkeypatch.context() as m:
        m.delenv("DISPLAY", raising=False)
        m.delenv("WAYLAND_DISPLAY", raising=False)
        real_note = selftest.check_qt_platform()[1]
    if real_note:  # the faked library must be the only one missing
        pytest.skip(f"this machine itself lacks a library of Qt's xcb plugin: {real_note}")
    _fake_ldd(tmp_path, monkeypatch)
    env = dict(os.environ, DISPLAY=":4711")
    env.pop("QT_QPA_PLATFORM", None)
    out = subprocess.run([sys.executable, "-m", "nerstudio", "--self-test"], capture_output=True,
                         text=True, timeout=300, env=env)
    assert out.returncode == 1 and out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr[-2000:]
    assert lines[0].startswith("nerstudio self-test FAILED at qt platform: ")
    assert "libxcb-cursor.so.0" in lines[0] and "sudo apt-get install libxcb-cursor0" in lines[0]
