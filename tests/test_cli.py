from __future__ import annotations

import os
import subprocess
import sys

import pytest

from serve.cli.verbs import VERBS


def scotd(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "serve.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)


def test_top_level_help_lists_every_verb():
    result = scotd("--help")
    assert result.returncode == 0
    for name in VERBS:
        assert f"  {name}" in result.stdout


@pytest.mark.parametrize("verb", sorted(VERBS))
def test_each_verb_has_help(verb):
    result = scotd(verb, "--help")
    assert result.returncode == 0, result.stderr
    assert "usage: scotd" in result.stdout


def test_unknown_verb_is_one_line():
    result = scotd("trian")
    assert result.returncode == 2
    assert result.stderr.strip() == f"scotd: unknown verb 'trian'; valid verbs: {', '.join(VERBS)}"


def test_missing_config_file_is_one_actionable_line(tmp_path):
    result = scotd("models", "--config", str(tmp_path / "missing.yaml"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [f"scotd models: error: config file '{tmp_path / 'missing.yaml'}' not found; "
                     "pass --config with the path of an existing YAML file"]


def test_unknown_config_key_is_one_actionable_line(tmp_path):
    config = tmp_path / "models.yaml"
    config.write_text("action: list\nforc: true\n")
    result = scotd("models", "--config", str(config))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0] == (f"scotd models: error: unknown config key 'forc' in {config}; "
                        "valid keys at the top level: action, force, name, source")


def test_serve_package_import_does_not_pull_torch():
    code = ("import sys, serve.cli.verbs, serve.core.config, serve.store.registry, serve.engines.interface, "
            "serve.core.student_format, serve.core.records, serve.core.answers; print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr
