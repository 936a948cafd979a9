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


@pytest.mark.skipif(sys.platform in ("darwin", "win32"), reason="Qt needs no DISPLAY there")
@pytest.mark.parametrize("display", [":987", "localhost:987.0"])
def test_a_display_that_does_not_answer_is_one_line_too(tmp_path, display):
    """DISPLAY set to a server that is gone (a closed session, SSH without forwarding): Qt
    would abort the process; the app says so instead."""
    env = {k: v for k, v in os.environ.items() if k not in ("WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env.update(NERSTUDIO_NO_DEMO="1", DISPLAY=display)
    out = subprocess.run([sys.executable, "-m", "nerstudio"], env=env, capture_output=True,
                         text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 1, (out.returncode, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"nerstudio: error: no display: DISPLAY={display}"), lines


def test_the_probe_finds_a_listening_x_socket():
    """The probe's yes and no: something listens where DISPLAY points (a TCP port, as X
    forwarded over SSH), then nothing does."""
    import socket

    from nerstudio.ui.app import x_server_answers

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]  # an ephemeral port: above 6000
    try:
        assert x_server_answers(f"127.0.0.1:{port - 6000}") is True
    finally:
        server.close()
    assert x_server_answers(f"127.0.0.1:{port - 6000}") is False
