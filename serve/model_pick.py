"""Which model a serving verb loads, the models a picker offers, and a cache of loaded engines.

The default is the int8 ONNX export of ``smollm2-135m-instruct`` (fast on a CPU,
no torch); if it has not been exported yet, the PyTorch folder is used and the
user is told the one command that makes the export.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Optional

from serve.engine import Engine, load_engine
from serve.errors import UserError
from serve.paths import models_dir
from serve.registry import DEFAULT_MODEL, get_entry, resolve_model_dir

DEFAULT_EXPORT = "onnx-int8"


def is_model_folder(path: Path) -> bool:
    """A finished export (it writes export_report.json last, after its gates pass) or an HF folder."""
    if (path / "genai_config.json").is_file() or any(path.glob("*.onnx")):
        return (path / "export_report.json").is_file()
    return (path / "config.json").is_file() and any(path.glob("*.safetensors"))


def default_model_dir(log=lambda msg: print(f"[scotd] {msg}", file=sys.stderr)) -> Path:
    entry = get_entry(DEFAULT_MODEL)
    export = entry.folder / DEFAULT_EXPORT
    if is_model_folder(export):
        return export
    hint = f"scotd export --model {DEFAULT_MODEL} --precision int8"
    if not entry.is_fetched():
        raise UserError(f"the default model '{DEFAULT_MODEL}' is not fetched; run: scotd models fetch {DEFAULT_MODEL} "
                        f"(then, for fast CPU serving: {hint})")
    log(f"no int8 ONNX export of {DEFAULT_MODEL} at {export}; serving the PyTorch fp32 model "
        f"(several times slower on a CPU). Create the export with: {hint}")
    return entry.hf_dir


def resolve_serving_model(model: Optional[str]) -> Path:
    """A folder for ``model`` (registry name, folder path) or the default when empty."""
    if not model:
        return default_model_dir()
    if model == DEFAULT_MODEL:
        return default_model_dir()
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
                            "or a finished ONNX export with export_report.json); fix the --models entry")
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
