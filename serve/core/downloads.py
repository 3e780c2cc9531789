"""Fetching files from PyPI with ``pip download`` (never installing them), and hashing what arrived."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path


class PipDownloadFailed(Exception):
    """pip could not download the requirement; the message is pip's last line of output."""


def pip_download(requirement: str, dest: Path, sdist: bool = False) -> None:
    """``pip download --no-deps`` one wheel (or, with ``sdist``, one source archive) into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    form = ["--no-binary", ":all:"] if sdist else ["--only-binary=:all:"]
    result = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", *form,
                             "--disable-pip-version-check", "-q", "-d", str(dest), requirement],
                            capture_output=True, text=True)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise PipDownloadFailed(tail[0])


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
