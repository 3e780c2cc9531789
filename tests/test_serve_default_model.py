"""The default served model is exported to int8 ONNX on first use where the export extra is installed
(the verb layer installs that export: serve itself never imports export)."""
from __future__ import annotations

import shutil

from export_fixtures import lively_model

from serve.apps.model_pick import is_model_folder, resolve_serving_model
from serve.store.registry import BUILTIN_REGISTRY


def test_first_use_exports_the_default_model_then_reuses_it(tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / "models").mkdir(parents=True)
    shutil.copy(BUILTIN_REGISTRY, home / "models")
    lively_model(home / "models" / "smollm2-135m-instruct" / "hf", "llama")
    monkeypatch.setenv("SCOTD_HOME", str(home))
    from serve.apps import model_pick
    from serve.cli.verbs import install_first_use_export

    monkeypatch.setattr(model_pick, "first_use_export", None)
    install_first_use_export()

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


def test_the_built_reasoner_is_served_by_default_and_the_base_stays_pickable(tmp_path, monkeypatch, capsys,
                                                                              llama_fp32_export):
    from serve.apps.model_pick import servable_models
    from serve.cli.verbs import main as cli_main

    home = tmp_path / "home"
    (home / "models").mkdir(parents=True)
    shutil.copy(BUILTIN_REGISTRY, home / "models")
    base_export = home / "models" / "smollm2-135m-instruct" / "onnx-int8"
    shutil.copytree(llama_fp32_export, base_export)
    monkeypatch.setenv("SCOTD_HOME", str(home))

    # Nothing distilled yet: the base is served, with the commands that distill the starter and the reasoner.
    assert resolve_serving_model(None) == base_export
    hint = capsys.readouterr().err
    assert "bash scripts/quickstart.sh" in hint and "scotd run recipes/reasoner-one-phase-fifth.yaml" in hint
    assert cli_main(["models", "fetch", "scotd-reasoner-135m"]) == 2
    assert "built by scotd, not downloaded: run scotd run recipes/reasoner-one-phase-fifth.yaml" in capsys.readouterr().err
    assert cli_main(["models", "list"]) == 0
    assert "(build: scotd run recipes/reasoner-one-phase-fifth.yaml)" in capsys.readouterr().out

    # The quickstart's starter is served once built; the reasoner wins over it.
    starter = home / "models" / "scotd-starter-135m" / "onnx-int8"
    shutil.copytree(llama_fp32_export, starter)
    assert resolve_serving_model(None) == starter
    reasoner = home / "models" / "scotd-reasoner-135m" / "onnx-int8"
    shutil.copytree(llama_fp32_export, reasoner)
    assert resolve_serving_model(None) == reasoner
    assert resolve_serving_model("smollm2-135m-instruct") == base_export
    assert resolve_serving_model("scotd-reasoner-135m") == reasoner
    assert set(servable_models().values()) >= {reasoner, base_export}
