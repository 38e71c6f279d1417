#!/usr/bin/env bash
# Makes .venv in the repository with what the ONNX and TensorBoard checks need (tests/interop.rs:
# onnx.checker, onnxruntime, TensorBoard's EventAccumulator) and what the Python package is built
# and tested with (maturin, pytest), pinned to the versions they were written against. Does
# nothing when .venv already has them.
set -euo pipefail
cd "$(dirname "$0")/.."
if .venv/bin/python -c "import onnx, onnxruntime, tensorboard, numpy, pytest" 2>/dev/null && [[ -x .venv/bin/maturin ]]; then
    exit 0
fi
if ! python3 -c "import venv, ensurepip" 2>/dev/null; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv) >/dev/null
fi
python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check \
    onnx==1.23.2 onnxruntime==1.32.0 tensorboard==2.21.0 numpy==2.4.6 maturin==1.16.0 pytest==9.2.0
.venv/bin/python -c "import onnx, onnxruntime, tensorboard, numpy, pytest"
