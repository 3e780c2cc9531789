from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional

import pytest

from serve.core.config import ConfigError, format_help, option, parse_args, save_yaml


@dataclass
class Optim:
    """Optimizer settings."""
    lr: float = option(1e-4, "peak learning rate")
    schedule: Literal["cosine", "linear"] = option("cosine", "learning-rate schedule")


@dataclass
class Stage:
    model: str = option("tiny", "model name or folder")
    steps: int = option(10, "optimizer steps")
    lora: bool = option(False, "train LoRA adapters instead of all weights")
    tasks: list[str] = option(default_factory=lambda: ["a"], help="task names")
    limit: Optional[int] = option(None, "cap on examples")
    source: str = option("x", "input file", aliases=("--in",))
    optim: Optim = field(default_factory=Optim)


def test_yaml_then_flags_override(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("steps: 5\noptim:\n  lr: 0.001\n")
    cfg = parse_args(Stage, ["--config", str(path), "--optim.lr", "3e-4", "--lora", "--tasks", "b", "c",
                             "--limit", "7", "--in", "f.jsonl"])
    assert cfg.steps == 5 and cfg.optim.lr == 3e-4 and cfg.lora is True
    assert cfg.tasks == ["b", "c"] and cfg.limit == 7 and cfg.source == "f.jsonl"
    assert cfg.optim.schedule == "cosine"


def test_dash_and_equals_spellings():
    cfg = parse_args(Stage, ["--optim.schedule=linear", "--limit", "none"])
    assert cfg.optim.schedule == "linear" and cfg.limit is None


def test_unknown_yaml_key_names_key_and_valid_ones(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("optim:\n  lrr: 0.1\n")
    with pytest.raises(ConfigError) as err:
        parse_args(Stage, ["--config", str(path)])
    message = str(err.value)
    assert "'optim.lrr'" in message and str(path) in message and "lr, schedule" in message
    assert "\n" not in message


def test_unknown_flag_is_rejected():
    with pytest.raises(ConfigError, match=r"unknown option .--stepz.*did you mean --steps\?"):
        parse_args(Stage, ["--stepz", "3"])


def test_missing_config_file_is_one_actionable_line(tmp_path):
    with pytest.raises(ConfigError) as err:
        parse_args(Stage, ["--config", str(tmp_path / "nope.yaml")])
    assert "not found" in str(err.value) and "--config" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("flags, expected", [
    (["--steps", "ten"], "steps: expected an integer"),
    (["--optim.schedule", "step"], "expected one of cosine, linear"),
    (["--lora", "maybe"], "expected true or false"),
])
def test_bad_values_name_the_key(flags, expected):
    with pytest.raises(ConfigError, match=expected):
        parse_args(Stage, flags)


def test_invalid_yaml_reports_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("steps: 3\noptim: [unclosed\n")
    with pytest.raises(ConfigError, match="line"):
        parse_args(Stage, ["--config", str(path)])


def test_help_lists_every_field_with_its_doc():
    text = format_help(Stage, "scotd stage")
    for needle in ("--optim.lr", "peak learning rate", "--steps", "--in", "default: 10"):
        assert needle in text


def test_saved_yaml_round_trips(tmp_path):
    cfg = parse_args(Stage, ["--steps", "3", "--optim.lr", "0.5"])
    save_yaml(cfg, tmp_path / "resolved.yaml")
    assert parse_args(Stage, ["--config", str(tmp_path / "resolved.yaml")]) == cfg


def test_extends_overlays_a_parent_recipe_section_by_section(tmp_path):
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "parent.yaml").write_text("steps: 5\ntasks: [p]\noptim:\n  lr: 0.001\n  schedule: linear\n")
    child = tmp_path / "child.yaml"
    child.write_text("extends: base/parent.yaml\nsteps: 9\noptim:\n  lr: 0.5\n")
    cfg = parse_args(Stage, ["--config", str(child), "--tasks", "flag"])
    assert cfg.steps == 9 and cfg.optim.lr == 0.5
    assert cfg.optim.schedule == "linear"  # kept from the parent: sections merge, they are not replaced
    assert cfg.tasks == ["flag"]


def test_extends_keeps_strict_keys_and_names_bad_links(tmp_path):
    (tmp_path / "parent.yaml").write_text("optim:\n  lrr: 0.1\n")
    (tmp_path / "child.yaml").write_text("extends: parent.yaml\nsteps: 2\n")
    with pytest.raises(ConfigError, match=r"unknown config key 'optim.lrr'"):
        parse_args(Stage, ["--config", str(tmp_path / "child.yaml")])
    (tmp_path / "orphan.yaml").write_text("extends: gone.yaml\n")
    with pytest.raises(ConfigError, match=r"'extends: gone.yaml' in .*orphan.yaml: no such file .*relative"):
        parse_args(Stage, ["--config", str(tmp_path / "orphan.yaml")])
    (tmp_path / "a.yaml").write_text("extends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n")
    with pytest.raises(ConfigError, match="loops back"):
        parse_args(Stage, ["--config", str(tmp_path / "a.yaml")])


def _verb_configs():
    import dataclasses
    import importlib

    from serve.cli.verbs import VERBS
    for name, verb in VERBS.items():
        module = importlib.import_module(verb.target.partition(":")[0])
        for value in vars(module).values():
            if (isinstance(value, type) and dataclasses.is_dataclass(value) and value.__name__.endswith("Config")
                    and value.__module__ == module.__name__):
                yield pytest.param(value, id=f"{name}:{value.__name__}")


@pytest.mark.parametrize("config_class", list(_verb_configs()))
def test_every_verb_config_key_is_in_its_help(config_class):
    from serve.core.config import _keys
    text = format_help(config_class, "scotd verb")
    missing = [key.dotted for key in _keys(config_class) if f"--{key.dotted} " not in text and f"--{key.dotted}\n" not in text]
    assert not missing


@pytest.mark.parametrize("words", [["b", "c"], ["b,c"], ["[b, c]"]])
def test_a_list_flag_takes_words_commas_or_one_yaml_list(words):
    assert parse_args(Stage, ["--tasks", *words, "--steps", "2"]).tasks == ["b", "c"]


def test_a_boolean_flag_alone_is_true_and_takes_yes_no():
    assert parse_args(Stage, ["--lora"]).lora is True
    assert parse_args(Stage, ["--lora", "no", "--steps", "2"]).lora is False


def test_an_unknown_nested_flag_names_its_section_keys_and_the_nearest_spelling():
    with pytest.raises(ConfigError) as err:
        parse_args(Stage, ["--optim.lrr", "0.1"])
    message = str(err.value)
    assert "did you mean --optim.lr?" in message and "keys at optim: lr, schedule" in message


def test_a_flag_without_its_value_and_a_stray_word_are_one_line_each():
    for argv, needle in ((["--steps"], "--steps"), (["stray"], "unexpected argument 'stray'")):
        with pytest.raises(ConfigError) as err:
            parse_args(Stage, argv)
        assert needle in str(err.value) and "\n" not in str(err.value)


def test_a_bad_value_in_the_recipe_names_the_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("optim:\n  lr: fast\n")
    with pytest.raises(ConfigError, match=rf"optim.lr in {path}: expected a number, got 'fast'"):
        parse_args(Stage, ["--config", str(path)])


def test_a_key_may_be_spelt_with_dashes():
    assert parse_args(Optim, ["--schedule", "linear"]).schedule == "linear"
    assert parse_args(Stage, ["--optim.lr", "0.5", "--steps", "3"]).optim.lr == 0.5
    from dataclasses import dataclass as dc

    @dc
    class Dashed:
        per_instance: int = option(1, "kept per question")
    assert parse_args(Dashed, ["--per-instance", "5"]).per_instance == 5


def test_positional_slots_may_follow_flags():
    @dataclass
    class Verb:
        action: str = option("list", "what to do", positional=True)
        name: Optional[str] = option(None, "which one", positional=True)
        source: str = option("hub", "where from")
    cfg = parse_args(Verb, ["fetch", "--source", "pypi", "qwen"])
    assert (cfg.action, cfg.name, cfg.source) == ("fetch", "qwen", "pypi")
