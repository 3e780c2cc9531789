"""A pinned virtual environment for optimum-onnx, created on first use.

optimum-onnx requires transformers < 4.58 while scotd runs on transformers 5, so
the optimum export runs in its own interpreter under ``cache_dir()/optimum-venv``.
The venv sees the main site-packages (``--system-site-packages``) so it reuses the
installed torch instead of downloading a second copy; the pinned packages it
installs itself (transformers 4.x and friends) shadow the main ones inside it.
A file lock keeps two concurrent exports from building it twice, and a stamp
file written last marks a venv as complete: a half-built one is rebuilt.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
import sys
import time
import venv
from contextlib import contextmanager
from pathlib import Path

from serve.core.errors import UserError
from serve.core.paths import cache_dir

# Versions that resolve together (optimum-onnx 0.1.0 needs optimum~=2.1, transformers<4.58).
PINS = [
    "optimum-onnx==0.1.0",
    "optimum==2.1.0",
    "transformers==4.57.6",
    "tokenizers==0.22.2",
    "huggingface_hub==0.36.2",
    "torch==2.13.0",
]
STAMP = "scotd-pins.txt"


def venv_dir() -> Path:
    return cache_dir() / "optimum-venv"


def venv_python(root: Path | None = None) -> Path:
    return (root or venv_dir()) / "bin" / "python"


def _log(message: str) -> None:
    print(f"[scotd export] {message}", file=sys.stderr, flush=True)


@contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def is_ready(root: Path | None = None) -> bool:
    root = root or venv_dir()
    stamp = root / STAMP
    return venv_python(root).is_file() and stamp.is_file() and stamp.read_text().split() == PINS


def ensure_venv(root: Path | None = None) -> Path:
    """The venv's python, building the venv first if it is missing or pinned differently."""
    root = root or venv_dir()
    with _locked(root.parent / f"{root.name}.lock"):
        if is_ready(root):
            return venv_python(root)
        if root.exists():
            shutil.rmtree(root)
        started = time.time()
        _log(f"creating the optimum-onnx environment in {root} (first use only, about a minute)")
        venv.EnvBuilder(system_site_packages=True, with_pip=True).create(root)
        command = [str(venv_python(root)), "-m", "pip", "install", "--disable-pip-version-check", "-q", *PINS]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            (root.parent / "optimum-venv-pip.log").write_text(result.stdout + result.stderr)
            shutil.rmtree(root, ignore_errors=True)
            tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
            raise UserError(f"could not build the optimum-onnx environment ({tail[0]}); full pip log: "
                            f"{root.parent / 'optimum-venv-pip.log'}; needs PyPI access for {', '.join(PINS)}")
        check = subprocess.run([str(venv_python(root)), "-c",
                                "import transformers, optimum.exporters.onnx; print(transformers.__version__)"],
                               capture_output=True, text=True)
        if check.returncode != 0 or not check.stdout.startswith("4."):
            shutil.rmtree(root, ignore_errors=True)
            raise UserError("the optimum-onnx environment was built but cannot import optimum with transformers 4.x: "
                            f"{(check.stderr or check.stdout).strip().splitlines()[-1:]}; delete {root} and retry")
        (root / STAMP).write_text("\n".join(PINS) + "\n")
        _log(f"optimum-onnx environment ready in {time.time() - started:.0f} s (transformers {check.stdout.strip()})")
        return venv_python(root)


def installed_versions(root: Path | None = None) -> dict[str, str]:
    """Package versions inside the venv, for the export report."""
    script = ("import importlib.metadata as m, json; print(json.dumps({p: m.version(p) for p in "
              "['optimum-onnx', 'optimum', 'transformers', 'torch', 'onnx']}))")
    result = subprocess.run([str(venv_python(root)), "-c", script], capture_output=True, text=True)
    return json.loads(result.stdout) if result.returncode == 0 else {}
