"""Where benchmark results go: a JSON file, and a marked section of a docs markdown file."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Optional

from serve.core.paths import project_root


def write_section(markdown: Path, start: str, end: str, body: str) -> None:
    """Replace the text between the ``start`` and ``end`` markers of a docs file (append it when absent),
    leaving the rest of the file untouched."""
    section = f"{start}\n{body}\n{end}"
    text = markdown.read_text() if markdown.is_file() else "# Benchmarks\n\nWritten by `scotd bench ...`.\n"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.DOTALL)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section + "\n"
    markdown.parent.mkdir(parents=True, exist_ok=True)
    markdown.write_text(text)


def output_path(path: str) -> Optional[Path]:
    """A benchmark's output option as a path under the project root (absolute paths as given); '' = none."""
    if not path:
        return None
    return Path(path) if Path(path).is_absolute() else project_root() / path


def write_results(json_path: Optional[Path], result, markdown: Optional[Path], start: str, end: str, body: str) -> None:
    """A benchmark's JSON, and its section of a docs markdown file; a None path is not written."""
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(result, indent=2) + "\n")
    if markdown is not None:
        write_section(markdown, start, end, body)
