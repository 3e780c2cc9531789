"""``scotd bench WHAT ...``: benchmarks that write JSON and a markdown table under docs/."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from serve.cli.verbs import Verb, _load

BENCHMARKS: dict[str, Verb] = {
    "sample": Verb("distill.bench_sample:main", "distill", "batched hf teacher sampling vs one sample at a time (samples/s)"),
    "decode": Verb("export.bench_decode:main", "export", "decode tok/s, prefill, load, RSS, size: PyTorch fp32 vs ONNX exports"),
    "serve": Verb("serve.apps.bench_serve:main", "serve", "time to first token and decode tok/s as served (engine and HTTP API)"),
    "train": Verb("distill.bench_train:main", "distill", "student training s/step, tokens/s, RSS, share of peak FLOP/s per speed lever"),
}


def write_results(json_path: Path, result: dict, markdown: Path, start: str, end: str, body: str) -> None:
    """A benchmark's JSON, and its section of a docs markdown file."""
    import json

    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(result, indent=2) + "\n")
    write_section(markdown, start, end, body)


def write_section(markdown: Path, start: str, end: str, body: str) -> None:
    """Replace the text between the ``start`` and ``end`` markers of a docs file (append it when absent)."""
    section = f"{start}\n{body}\n{end}"
    text = markdown.read_text() if markdown.is_file() else "# Benchmarks\n\nWritten by `scotd bench ...`.\n"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.DOTALL)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section + "\n"
    markdown.parent.mkdir(parents=True, exist_ok=True)
    markdown.write_text(text)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        rows = "\n".join(f"  {name:8s} {b.summary}" for name, b in BENCHMARKS.items())
        sys.stdout.write(f"usage: scotd bench WHAT [--KEY VALUE ...]\n\nbenchmarks:\n{rows}\n")
        return 0
    name = argv[0]
    if name not in BENCHMARKS:
        from serve.core.errors import UserError
        raise UserError(f"unknown benchmark '{name}'; valid: {', '.join(BENCHMARKS)}")
    return int(_load(f"bench {name}", BENCHMARKS[name])(argv[1:]) or 0)
