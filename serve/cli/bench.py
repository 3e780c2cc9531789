"""``scotd bench WHAT ...``: benchmarks that write JSON and a markdown table under docs/."""

from __future__ import annotations

import sys

from serve.cli.verbs import Verb, _load

BENCHMARKS: dict[str, Verb] = {
    "sample": Verb("bench.sample:main", "distill", "batched hf teacher sampling vs one sample at a time (samples/s)"),
    "decode": Verb("bench.decode:main", "export", "decode tok/s, prefill, load, RSS, size: PyTorch fp32 vs ONNX exports"),
    "serve": Verb("bench.serving:main", "serve", "time to first token and decode tok/s as served (engine and HTTP API)"),
    "train": Verb("bench.train:main", "distill", "student training s/step, tokens/s, RSS, share of peak FLOP/s per speed lever"),
}


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
