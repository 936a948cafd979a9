#!/usr/bin/env bash
# Build the one-folder desktop bundle with PyInstaller and smoke-test it.
#   packaging/build_bundle.sh            CPU bundle (uses the CPU torch wheel)
#   TORCH_SPEC="torch==2.13.0" ...       pin another torch (a CUDA build makes a CUDA bundle)
# Output: dist/bundle/nerstudio/nerstudio (run it; --self-test checks it without a window).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=build/bundle-venv
python3 -m venv "$VENV"
. "$VENV/bin/activate"
python -m pip install -q --upgrade pip
python -m pip install -q "${TORCH_SPEC:-torch==2.13.0}"
python -m pip install -q . pyinstaller
start=$(date +%s)
(cd packaging && pyinstaller nerstudio.spec --noconfirm --clean \
    --distpath ../dist/bundle --workpath ../build/pyinstaller)
echo "built in $(( $(date +%s) - start )) s: $(du -sh dist/bundle/nerstudio | cut -f1)"
deactivate
env -u VIRTUAL_ENV PATH=/usr/bin:/bin dist/bundle/nerstudio/nerstudio --self-test
