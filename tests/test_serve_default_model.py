"""The default served model is exported to int8 ONNX on first use where the export extra is installed."""
from __future__ import annotations

import shutil
from pathlib import Path

from export_fixtures import lively_model

from serve.model_pick import is_model_folder, resolve_serving_model


def test_first_use_exports_the_default_model_then_reuses_it(tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / "models").mkdir(parents=True)
    shutil.copy(Path(__file__).resolve().parent.parent / "models" / "registry.yaml", home / "models")
    lively_model(home / "models" / "smollm2-135m-instruct" / "hf", "llama")
    monkeypatch.setenv("SCOTD_HOME", str(home))

    chosen = resolve_serving_model(None)
    export = home / "models" / "smollm2-135m-instruct" / "onnx-int8"
    assert export.is_dir(), "no export was attempted"
    if (export / "export_report.json").is_file():
        assert chosen == export
    else:  # a refused gate keeps its report and serves PyTorch instead
        assert (export / "export_report.FAILED.json").is_file()
        assert chosen == home / "models" / "smollm2-135m-instruct" / "hf"
    assert is_model_folder(chosen)
    mtime = export.stat().st_mtime_ns
    assert resolve_serving_model(None) == chosen and export.stat().st_mtime_ns == mtime  # no second export
