#!/usr/bin/env bash
# The Python package (python/): a venv in .venv with pinned maturin, NumPy and pytest (from PyPI),
# the package built into it from this checkout, and its tests. Run from anywhere; used by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv
if [[ ! -x $venv/bin/python ]]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q "maturin==1.16.0" "numpy==2.4.6" "pytest==9.2.0"
# maturin develop installs into the venv named by VIRTUAL_ENV.
(cd python && VIRTUAL_ENV="$PWD/../$venv" PATH="$PWD/../$venv/bin:$PATH" maturin develop --release -q)
"$venv/bin/python" -m pytest -q python/tests
