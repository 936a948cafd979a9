"""The README's install-and-launch line ends in ``nerstudio``: on a machine without a display
it must say so in one line, not abort with a core dump and a message about libxcb-cursor0
(issue #26, the no-display case)."""
import os
import subprocess
import sys

import pytest

pytest.importorskip("PySide6")


@pytest.mark.skipif(sys.platform in ("darwin", "win32"), reason="Qt needs no DISPLAY there")
def test_the_app_without_a_display_says_so_in_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["NERSTUDIO_NO_DEMO"] = "1"
    out = subprocess.run([sys.executable, "-m", "nerstudio"], env=env, capture_output=True,
                         text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 1, (out.returncode, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nerstudio: error: no display"), lines
