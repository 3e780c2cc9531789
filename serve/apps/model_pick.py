"""Which model a serving verb loads, the models a picker offers, and a cache of loaded engines.

The default is the first distilled model that is built: the reasoner (``scotd-reasoner-135m``,
``scotd run recipes/reasoner-one-phase-fifth.yaml``), else the starter (``scotd-starter-135m``, what
``scripts/quickstart.sh`` distills); until then the int8 ONNX export of
``smollm2-135m-instruct`` (fast on a CPU, no torch), with a one-line hint how to build
the reasoner. On first use the model is fetched and, where the verb layer has installed
``first_use_export`` (it does when the ``export`` extra is importable: serve itself never
imports export), exported with its gates; an edge install without it, or an export whose
gate fails, serves the PyTorch folder and says which command makes the export.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Optional

from serve.core.errors import UserError
from serve.core.paths import models_dir
from serve.engines.interface import Engine, detect_backend, load_engine
from serve.store.export_folder import DEFAULT_EXPORT, REPORT_FILE, is_finished_export
from serve.store.registry import DEFAULT_MODEL, DISTILLED_MODELS, get_entry, load_registry, resolve_model_dir

# Set by the verb layer (serve.cli.verbs) where the export extra is installed: exports the
# default model to int8 with its gates and returns the folder, or raises UserError.
first_use_export: Optional[Callable[[], Path]] = None


def is_model_folder(path: Path) -> bool:
    """A finished export (it writes its report last, after its gates pass) or an HF folder."""
    try:
        backend = detect_backend(path)
    except UserError:
        return False
    if backend == "onnx":
        return is_finished_export(path)
    return any(path.glob("*.safetensors"))


def default_model_dir(log=lambda msg: print(f"[scotd] {msg}", file=sys.stderr)) -> Path:
    registry = load_registry()
    distilled = [registry[name] for name in DISTILLED_MODELS if name in registry]  # a copied registry may lack them
    for entry in distilled:
        if is_model_folder(entry.folder / DEFAULT_EXPORT):
            return entry.folder / DEFAULT_EXPORT
    if distilled:
        log(f"serving the undistilled {DEFAULT_MODEL}; distill a starter reasoner with: bash scripts/quickstart.sh "
            f"(about 15 minutes), or the full one with: scotd run {distilled[0].built_by()}")
    return base_model_dir(log)


def base_model_dir(log=lambda msg: print(f"[scotd] {msg}", file=sys.stderr)) -> Path:
    """The undistilled base's int8 export, fetched and exported on first use where possible."""
    entry = get_entry(DEFAULT_MODEL)
    export = entry.folder / DEFAULT_EXPORT
    if is_model_folder(export):
        return export
    hint = f"scotd export --model {DEFAULT_MODEL} --precision int8"
    if not entry.is_fetched():
        from serve.store.fetch import fetch_model

        log(f"first use: fetching {DEFAULT_MODEL}")
        fetch_model(DEFAULT_MODEL)
    if first_use_export is not None and not export.exists():
        log(f"first use: exporting {DEFAULT_MODEL} to int8 ONNX with parity and accuracy gates (a few minutes)")
        try:
            return first_use_export()
        except UserError as exc:
            log(f"the int8 export did not pass: {exc}")
    log(f"no int8 ONNX export of {DEFAULT_MODEL} at {export}; serving the PyTorch fp32 model "
        f"(several times slower on a CPU). Create the export with: {hint}")
    return entry.hf_dir


def resolve_serving_model(model: Optional[str]) -> Path:
    """A folder for ``model`` (registry name, folder path) or the default when empty."""
    if not model:
        return default_model_dir()
    if model == DEFAULT_MODEL:
        return base_model_dir()
    registry = load_registry()
    if model in registry and not registry[model].is_fetched() and registry[model].exports():
        exports = registry[model].exports()  # a built model (the reasoner) has exports and no hf/ folder
        return next((p for p in exports if p.name == DEFAULT_EXPORT), exports[0])
    return resolve_model_dir(model)


def model_label(path: Path) -> str:
    """``smollm2-135m-instruct · onnx-int8`` for models/NAME/VARIANT, else the folder path."""
    path = Path(path)
    try:
        relative = path.resolve().relative_to(models_dir().resolve())
        return " · ".join(relative.parts)
    except ValueError:
        return str(path)


def servable_models(extra: list[Path] = ()) -> dict[str, Path]:
    """Label -> folder for every loadable model under models/ (two levels deep) plus ``extra``."""
    found: dict[str, Path] = {}
    for path in extra:
        if not is_model_folder(Path(path)):
            raise UserError(f"'{path}' is not a model folder (an HF folder with config.json + *.safetensors, "
                            f"or a finished ONNX export with {REPORT_FILE}); fix the --models entry")
        found.setdefault(model_label(Path(path)), Path(path))
    for path in sorted(p for p in models_dir().glob("*/*") if p.is_dir()):
        if is_model_folder(path):
            found.setdefault(model_label(path), path)
    return found


class EngineCache:
    """Loaded engines by folder, at most ``capacity`` at once (least recently used goes first)."""

    def __init__(self, capacity: int = 2, backend: str = "auto", **options):
        self.capacity = max(1, capacity)
        self.backend = backend
        self.options = options
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, model: str | Path) -> Engine:
        key = str(Path(model).resolve()) if Path(model).is_dir() else str(model)
        with self._lock:
            if key in self._engines:
                self._engines.move_to_end(key)
                return self._engines[key]
            engine = load_engine(model, backend=self.backend, **self.options)
            self._engines[key] = engine
            while len(self._engines) > self.capacity:
                _, old = self._engines.popitem(last=False)
                old.close()
            return engine
