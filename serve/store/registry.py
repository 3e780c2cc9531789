"""The model registry: which models scotd knows, and where a model name points on disk.

The registry is data shipped in this package (``serve/store/registry.yaml``; a
``registry.yaml`` in the models folder replaces it); fetched weights live under
``models/NAME/hf`` (a standard Hugging Face folder) and exports under
``models/NAME/onnx-PRECISION``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from serve.core.errors import UserError
from serve.core.paths import models_dir
from serve.store.export_folder import is_finished_export

DEFAULT_MODEL = "smollm2-135m-instruct"
REASONER_MODEL = "scotd-reasoner-135m"  # served by default once recipes/reasoner-one-phase-fifth.yaml has built it
STARTER_MODEL = "scotd-starter-135m"  # what scripts/quickstart.sh distills; served while no reasoner is built
DISTILLED_MODELS = (REASONER_MODEL, STARTER_MODEL)  # the first one built is the default model
BUILTIN_REGISTRY = Path(__file__).with_name("registry.yaml")


def registry_file() -> Path:
    """The models folder's own ``registry.yaml`` where there is one, else the one shipped with scotd."""
    own = models_dir() / "registry.yaml"
    return own if own.is_file() else BUILTIN_REGISTRY


@dataclass(frozen=True)
class ModelEntry:
    name: str
    description: str
    architecture: str
    parameters: str
    sources: list[dict[str, Any]] = field(default_factory=list)

    @property
    def folder(self) -> Path:
        return models_dir() / self.name

    @property
    def hf_dir(self) -> Path:
        return self.folder / "hf"

    def is_fetched(self) -> bool:
        return (self.hf_dir / "config.json").is_file() and any(self.hf_dir.glob("*.safetensors"))

    def built_by(self) -> str | None:
        """The recipe that builds this model, for models made by scotd rather than downloaded."""
        return next((s["recipe"] for s in self.sources if s.get("kind") == "recipe"), None)

    def exports(self) -> list[Path]:
        """Exported ONNX folders (``onnx-int8`` etc.) that carry an export report."""
        return sorted(p for p in self.folder.glob("onnx-*") if is_finished_export(p))


def load_registry(path: Path | None = None) -> dict[str, ModelEntry]:
    path = path or registry_file()
    data = yaml.safe_load(path.read_text()) or {}
    entries = {}
    for name, spec in data.items():
        unknown = set(spec) - {"description", "architecture", "parameters", "sources"}
        if unknown:
            raise UserError(f"{path}: model '{name}' has unknown keys {sorted(unknown)}; "
                            "valid keys: description, architecture, parameters, sources")
        entries[name] = ModelEntry(name=name, description=spec.get("description", ""),
                                   architecture=spec.get("architecture", "?"),
                                   parameters=str(spec.get("parameters", "?")),
                                   sources=list(spec.get("sources", [])))
    return entries


def get_entry(name: str) -> ModelEntry:
    registry = load_registry()
    if name not in registry:
        raise UserError(f"unknown model '{name}'; known models: {', '.join(registry)} "
                        f"(add it to {registry_file()} or pass a folder path)")
    return registry[name]


def resolve_model_dir(name_or_path: str | Path) -> Path:
    """A model folder from a path, or a registry name that has been fetched. A model's own folder
    (``models/NAME``, holding ``hf/`` beside its exports) means its ``hf/`` folder."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        inner = path / "hf"
        if not (path / "config.json").is_file() and (inner / "config.json").is_file():
            return inner
        return path
    registry = load_registry()
    if str(name_or_path) in registry:
        entry = registry[str(name_or_path)]
        if entry.is_fetched():
            return entry.hf_dir
        if entry.built_by():
            raise UserError(f"model '{entry.name}' is not built yet; build it with: scotd run {entry.built_by()}")
        raise UserError(f"model '{entry.name}' is not fetched yet; run: scotd models fetch {entry.name}")
    raise UserError(f"'{name_or_path}' is neither a folder nor a known model name; "
                    f"known models: {', '.join(registry)}")
