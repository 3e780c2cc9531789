"""Where scotd keeps things: the registry, fetched models, and the download cache.

``SCOTD_HOME`` overrides the project root (the folder holding ``models/``);
``SCOTD_CACHE`` overrides the download cache (default ``~/.cache/scotd``).
"""

from __future__ import annotations

import os
from pathlib import Path

_SOURCE_ROOT = Path(__file__).resolve().parent.parent


def project_root() -> Path:
    if os.environ.get("SCOTD_HOME"):
        return Path(os.environ["SCOTD_HOME"]).expanduser().resolve()
    return _SOURCE_ROOT


def models_dir() -> Path:
    return project_root() / "models"


def registry_file() -> Path:
    own = models_dir() / "registry.yaml"
    return own if own.is_file() else _SOURCE_ROOT / "models" / "registry.yaml"


def cache_dir() -> Path:
    root = os.environ.get("SCOTD_CACHE") or (Path.home() / ".cache" / "scotd")
    path = Path(root).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path
