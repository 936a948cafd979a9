"""A long GUI session must not abort on PySide6's None refcount bug (see nerstudio/ui/__init__)."""
import subprocess
import sys

SCRIPT = """
import sys
import nerstudio.ui
from PySide6.QtWidgets import QApplication, QWidget
app = QApplication([])
w = QWidget()
for _ in range(50_000):  # ten times None's whole refcount at start on 3.11
    w.update()
app.processEvents()
print("alive")
"""


def test_fifty_thousand_void_qt_calls_do_not_abort():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"}, timeout=120)
    assert out.returncode == 0 and "alive" in out.stdout, out.stderr[-2000:]
