"""Where scotd keeps things: fetched models (and what it writes beside them), and the download cache.

The home (the folder holding ``models/``) is ``SCOTD_HOME`` when set; else the checkout
when scotd runs from one (a source tree with ``pyproject.toml`` beside the packages);
else the user data folder, ``$XDG_DATA_HOME/scotd`` (default ``~/.local/share/scotd``),
as for a wheel installed into site-packages.
``SCOTD_CACHE`` overrides the download cache (default ``~/.cache/scotd``).
"""

from __future__ import annotations

import os
from pathlib import Path

_SOURCE_ROOT = Path(__file__).resolve().parents[2]


def running_from_checkout() -> bool:
    return (_SOURCE_ROOT / "pyproject.toml").is_file() and (_SOURCE_ROOT / "serve").is_dir()


def user_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or (Path.home() / ".local" / "share")
    return Path(base).expanduser() / "scotd"


def project_root() -> Path:
    if os.environ.get("SCOTD_HOME"):
        return Path(os.environ["SCOTD_HOME"]).expanduser().resolve()
    return _SOURCE_ROOT if running_from_checkout() else user_data_dir()


def models_dir() -> Path:
    return project_root() / "models"


def cache_dir() -> Path:
    root = os.environ.get("SCOTD_CACHE") or (Path.home() / ".cache" / "scotd")
    path = Path(root).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path
