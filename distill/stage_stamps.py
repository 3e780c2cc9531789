"""Whether a pipeline stage's earlier result still holds: stamps under ``run.dir/stages/``.

A stamp records the stage's resolved config and the sha256 of its input files. A stage is up
to date when its outputs exist, its inputs hash the same, and its config matches the stamp
key by key. A key the stamp lacks is an option scotd gained after that run: it matches when
it holds its default, because a new option's default keeps the old behaviour. So upgrading
scotd does not rerun hours of training that no setting of the recipe asked to change.

``NAME.started.json`` holds the same record while a stage runs; a train stage found started
with a matching record resumes from its checkpoints.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Optional

from distill.run_info import path_sha256
import yaml

from serve.core.config import defaults, to_dict


def stamp_record(config: Any, inputs: list[str]) -> dict:
    """The stage's config (plain JSON types) and its input hashes, with a key over both."""
    plain = json.loads(json.dumps(to_dict(config), default=str))
    hashes: dict[str, Optional[str]] = {p: path_sha256(p) for p in inputs}
    blob = json.dumps({"config": plain, "inputs": hashes}, sort_keys=True, default=str)
    return {"key": hashlib.sha256(blob.encode()).hexdigest(), "inputs": hashes, "config": plain}


def config_matches(stored: dict, current: dict, defaults: dict) -> bool:
    """``current`` equals ``stored`` key by key; a key ``stored`` lacks matches at its default."""
    for key, value in current.items():
        if key not in stored:
            if key not in defaults or defaults[key] != value:
                return False
        elif isinstance(value, dict) and isinstance(stored[key], dict):
            below = defaults.get(key) if isinstance(defaults.get(key), dict) else {}
            if not config_matches(stored[key], value, below):
                return False
        elif stored[key] != value:
            return False
    return True


def record_matches(stored: dict, current: dict, config_class: type) -> bool:
    """Same inputs and a matching config; a stamp without its config (older scotd) compares keys."""
    if "config" not in stored:
        return stored.get("key") == current["key"]
    return (stored.get("inputs") == current["inputs"]
            and config_matches(stored["config"], current["config"], defaults(config_class)))


def read_stamp(path: Path) -> Optional[dict]:
    return json.loads(path.read_text()) if path.is_file() else None


def train_record_from_run(out: Path, current: dict) -> Optional[dict]:
    """The record of an interrupted train stage started by a scotd whose ``NAME.started.json`` held only a key:
    the config the run saved (``OUT/train_config.yaml``) and the hash of the rationales it read
    (``OUT/run_info.json``); ``resume`` is taken from ``current``: it says how the run started, not what it learns."""
    config_file, info_file = out / "train_config.yaml", out / "run_info.json"
    if not config_file.is_file() or not info_file.is_file():
        return None
    config = json.loads(json.dumps(yaml.safe_load(config_file.read_text()) or {}, default=str))
    config["resume"] = current["config"].get("resume")
    cots = json.loads(info_file.read_text()).get("inputs", {}).get("cots") or {}
    if not cots.get("path"):
        return None
    # the run recorded the rationales' hash only; a changed question file changes them too
    return {"config": config, "inputs": {**current["inputs"], cots["path"]: cots["sha256"]}}
