"""What a run folder records about itself: input hashes, package versions, git commit.

``path_sha256`` hashes a file, or a folder's files (names and contents, in sorted order),
so ``scotd run`` can tell whether a stage's inputs changed since it last ran.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Optional

from serve.core import downloads
from serve.core.provenance import package_versions

PACKAGES = ("scotd", "torch", "transformers", "accelerate", "peft", "datasets", "onnxruntime", "onnxruntime-genai")
_SKIPPED_PARTS = {"checkpoints", "tensorboard", "__pycache__"}


def file_sha256(path: str | Path) -> Optional[str]:
    path = Path(path)
    return downloads.file_sha256(path) if path.is_file() else None


def path_sha256(path: str | Path) -> Optional[str]:
    """Hash of a file, or of every file under a folder (skipping checkpoints and logs); None if absent."""
    path = Path(path)
    if path.is_file():
        return file_sha256(path)
    if not path.is_dir():
        return None
    digest = hashlib.sha256()
    for child in sorted(p for p in path.rglob("*") if p.is_file()):
        relative = child.relative_to(path)
        if _SKIPPED_PARTS & set(relative.parts):
            continue
        digest.update(str(relative).encode() + b"\0" + (file_sha256(child) or "").encode())
    return digest.hexdigest()


def git_commit() -> Optional[str]:
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10,
                                cwd=Path(__file__).resolve().parent)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def write_run_info(path: str | Path, inputs: dict[str, str], extra: dict[str, Any] | None = None) -> dict:
    """Write ``run_info.json``: inputs with their hashes, versions, commit, command line, time."""
    info = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "argv": sys.argv,
        "git_commit": git_commit(),
        "versions": package_versions(PACKAGES),
        "inputs": {key: {"path": value, "sha256": path_sha256(value) if value else None}
                   for key, value in inputs.items()},
        **(extra or {}),
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(info, indent=2, default=str) + "\n")
    return info
