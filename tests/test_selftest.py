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
