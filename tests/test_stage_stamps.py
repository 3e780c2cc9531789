"""Stage stamps: a stage's earlier result holds while its inputs and its config hold, and an option
scotd gained since (at its default) does not rerun it; anything else that changed does."""

from __future__ import annotations

from dataclasses import dataclass, field

from distill.stage_stamps import config_matches, record_matches, stamp_record
from serve.core.config import defaults, option


@dataclass
class Inner:
    lr: float = option(1e-4, "learning rate")


@dataclass
class Config:
    steps: int = option(10, "steps")
    inner: Inner = field(default_factory=Inner)


def _drop(record: dict, *path: str) -> dict:
    """The record an older scotd wrote, before the option at ``path`` existed."""
    older = {**record, "config": {k: dict(v) if isinstance(v, dict) else v for k, v in record["config"].items()}}
    node = older["config"]
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return older


def test_an_option_added_since_matches_only_at_its_default(tmp_path):
    source = tmp_path / "data.jsonl"
    source.write_text("{}\n")
    record = stamp_record(Config(), [str(source)])
    assert record_matches(record, record, Config)
    older = _drop(record, "inner", "lr")
    older["key"] = "a hash over the older config"  # so the match comes from the config, not the key
    assert record_matches(older, record, Config)
    changed = stamp_record(Config(inner=Inner(lr=3e-4)), [str(source)])
    assert not record_matches(older, changed, Config)


def test_a_changed_value_or_input_does_not_match(tmp_path):
    source = tmp_path / "data.jsonl"
    source.write_text("{}\n")
    record = stamp_record(Config(), [str(source)])
    assert not record_matches(record, stamp_record(Config(steps=11), [str(source)]), Config)
    source.write_text("{}\n{}\n")
    assert not record_matches(record, stamp_record(Config(), [str(source)]), Config)


def test_a_stamp_without_its_config_compares_keys(tmp_path):
    record = stamp_record(Config(), [])
    assert record_matches({"key": record["key"]}, record, Config)
    assert not record_matches({"key": "other"}, record, Config)


def test_defaults_and_matching_walk_sections():
    assert defaults(Config) == {"steps": 10, "inner": {"lr": 1e-4}}
    assert config_matches({"steps": 10}, {"steps": 10, "inner": {"lr": 1e-4}}, defaults(Config))
    assert not config_matches({"steps": 10}, {"steps": 10, "inner": {"lr": 2e-4}}, defaults(Config))
