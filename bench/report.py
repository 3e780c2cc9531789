"""Where a benchmark's results go: a JSON file, and its marked section of a docs markdown file.

Every section is fenced by ``<!-- bench:NAME:start -->`` and ``<!-- bench:NAME:end -->``
(``markers``), so a rerun replaces its own table and leaves the rest of the file alone.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Optional

from bench.harness import log
from serve.core.paths import project_root


def markers(name: str) -> tuple[str, str]:
    return f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"


def write_section(markdown: Path, name: str, body: str) -> None:
    """Replace section ``name`` of a docs file (append it when absent), leaving the rest untouched."""
    start, end = markers(name)
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


def publish(name: str, result, json_out: str, markdown: str, heading: str, table: str) -> None:
    """The tail of every benchmark: its JSON, its docs section (``## heading`` over the table), the table
    on stdout and one line on stderr saying what was written."""
    written = write_results(name, result, json_out, markdown, f"## {heading}\n\n{table}")
    print(table)
    log(f"wrote {', '.join(written) or 'nothing (--json_out and --markdown are empty)'}", name)


def write_results(name: str, result, json_out: str, markdown: str, body: str) -> list[str]:
    """A benchmark's JSON and its docs section; an empty option ('') writes nothing there. Returns what it wrote."""
    written = []
    json_path, markdown_path = output_path(json_out), output_path(markdown)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(result, indent=2) + "\n")
        written.append(str(json_out))
    if markdown_path is not None:
        write_section(markdown_path, name, body)
        written.append(f"the {name} section of {markdown}")
    return written
