#!/usr/bin/env bash
# The Python package (python/): built into .venv (made by .ci/python-venv.sh: pinned maturin,
# NumPy, pytest from PyPI) from this checkout, and its tests. Run from anywhere; used by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv
bash .ci/python-venv.sh
# maturin develop installs into the venv named by VIRTUAL_ENV.
(cd python && VIRTUAL_ENV="$PWD/../$venv" PATH="$PWD/../$venv/bin:$PATH" maturin develop --release -q)
"$venv/bin/python" -m pytest -q -rs python/tests
