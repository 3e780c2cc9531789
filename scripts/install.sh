#!/usr/bin/env bash
# Install scotd with one extra (default: all) into the current Python.
# torch goes first and pinned: a bare `torch` requirement would pull several GB of CUDA wheels.
set -euo pipefail
cd "$(dirname "$0")/.."
extra="${1:-all}"
PY="${PYTHON:-python3}"
export PIP_DISABLE_PIP_VERSION_CHECK=1
if ! "$PY" -c "import torch" 2>/dev/null; then
    "$PY" -m pip install -q "torch==${SCOTD_TORCH_VERSION:-2.13.0}"
fi
"$PY" -m pip install -q -e ".[${extra}]"
