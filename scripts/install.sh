#!/usr/bin/env bash
# Install scotd with one extra (default: all) into the current Python.
# torch goes first and pinned, through pip so that this machine's pip configuration applies (a local
# CPU wheel, an index): a bare `torch` requirement would pull several GB of CUDA wheels.
# The rest goes through uv when uv installs (parallel downloads: 12 s against pip's 92 s for `.[all]`
# on a 2-core AVX2 EPYC, docs/RESULTS.md), else through pip, so the install never rests on uv alone.
# Neither compiles bytecode up front: Python compiles the modules a command imports, on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
extra="${1:-all}"
PY="${PYTHON:-python3}"
export PIP_DISABLE_PIP_VERSION_CHECK=1
pip_install() { "$PY" -m pip install -q --no-compile "$@"; }
if ! "$PY" -c "import torch" 2>/dev/null; then
    pip_install "torch==${SCOTD_TORCH_VERSION:-2.13.0}"
fi
# uv itself: the one on PATH, else a copy in scotd's cache (never installed into the user's environment)
uv_command() {
    if command -v uv >/dev/null 2>&1; then command -v uv; return; fi
    local dir="${SCOTD_CACHE:-$HOME/.cache/scotd}/uv"
    [ -x "$dir/bin/uv" ] || pip_install --target "$dir" uv >/dev/null 2>&1 || return 1
    echo "$dir/bin/uv"
}
# the interpreter by its path: uv reads a bare "python3" as a version request and looks for a virtual environment
if [ "${SCOTD_INSTALLER:-uv}" = uv ] && UV=$(uv_command) \
        && "$UV" pip install -q --python "$("$PY" -c 'import sys; print(sys.executable)')" -e ".[${extra}]"; then
    exit 0
fi
echo "[install] uv did not install; installing with pip" >&2
pip_install -e ".[${extra}]"
