"""Dataclass configs loaded from YAML with dotted command-line overrides.

Every stage declares one (possibly nested) dataclass. A value comes, in rising
priority, from the field default, the YAML file given with ``--config``, and
``--section.key value`` flags. Unknown keys are errors that name the key and
the valid ones, so a typo never silently falls back to a default.

Field help text lives in ``field(metadata={"help": ...})`` (use :func:`option`)
and feeds the generated ``--help``.
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import yaml

from serve.core.errors import UserError


class ConfigError(UserError, ValueError):
    """A config problem the user can fix; the message says how."""


def option(default: Any = dataclasses.MISSING, help: str = "", *, aliases: tuple[str, ...] = (),
           positional: bool = False, default_factory: Any = dataclasses.MISSING) -> Any:
    """A dataclass field with help text, optional flag aliases (``--in``) or a positional slot."""
    metadata = {"help": help, "aliases": aliases, "positional": positional}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


# --------------------------------------------------------------------------- types

def _is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _resolved_fields(cls: type) -> list[tuple[dataclasses.Field, Any]]:
    hints = typing.get_type_hints(cls)
    return [(f, hints[f.name]) for f in dataclasses.fields(cls)]


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return "|".join(str(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(tp) if a is not type(None))
    if origin in (list, tuple):
        inner = get_args(tp)
        return f"list of {_type_name(inner[0])}" if inner else "list"
    if origin is dict:
        return "mapping"
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, key: str, source: str = "") -> Any:
    """Convert a YAML or command-line value to ``tp``; raise ConfigError naming ``key``."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None or (isinstance(value, str) and value.lower() in ("null", "none") and type(None) in args):
            if type(None) in args:
                return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key, source)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(f"{key}: expected {_type_name(tp)}, got {value!r}")
    if origin is Literal:
        choices = get_args(tp)
        for choice in choices:
            if value == choice or str(value) == str(choice):
                return choice
        raise ConfigError(f"{key}: expected one of {', '.join(map(str, choices))}; got {value!r}")
    if origin in (list, tuple):
        (inner, *_) = get_args(tp) or (Any,)
        if isinstance(value, str):
            value = [v for v in value.split(",") if v != ""] if "," in value or value else []
        if not isinstance(value, (list, tuple)):
            value = [value]
        items = [_coerce(v, inner, f"{key}[{i}]") for i, v in enumerate(value)]
        return items if origin is list else tuple(items)
    if origin is dict:
        if isinstance(value, str):
            value = yaml.safe_load(value)
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return dict(value)
    if _is_dataclass_type(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a section (mapping of keys), got {value!r}")
        return build(tp, value, prefix=f"{key}.", source=source)
    if tp is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "yes", "1", "on"):
            return True
        if text in ("false", "no", "0", "off"):
            return False
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        try:
            as_float = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key}: expected an integer, got {value!r}") from None
        if not as_float.is_integer():
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return int(as_float)
    if tp is float:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key}: expected a number, got {value!r}") from None
    if tp is str:
        if isinstance(value, (dict, list)):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return str(value)
    if tp is Path:
        return Path(str(value))
    return value


# --------------------------------------------------------------------------- building

def build(cls: type, values: dict[str, Any], prefix: str = "", source: str = "") -> Any:
    """Instantiate dataclass ``cls`` from a nested mapping, strictly."""
    fields = {f.name: (f, tp) for f, tp in _resolved_fields(cls)}
    where = f" in {source}" if source else ""
    for key in values:
        if key not in fields:
            section = prefix.rstrip(".") or "the top level"
            raise ConfigError(
                f"unknown config key '{prefix}{key}'{where}; valid keys at {section}: "
                f"{', '.join(sorted(fields))}")
    kwargs = {}
    for name, (f, tp) in fields.items():
        if name in values:
            kwargs[name] = _coerce(values[name], tp, f"{prefix}{name}", source)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            if _is_dataclass_type(tp):
                kwargs[name] = build(tp, {}, prefix=f"{prefix}{name}.", source=source)
            else:
                raise ConfigError(f"missing required config key '{prefix}{name}'{where} "
                                  f"({_type_name(tp)}): {f.metadata.get('help', '')}".rstrip(": "))
    try:
        instance = cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{prefix.rstrip('.') or cls.__name__}: {exc}") from None
    return instance


def to_dict(cfg: Any) -> dict[str, Any]:
    """Plain nested dict (Paths as strings) suitable for YAML/JSON."""
    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, Path):
            return str(value)
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value
    return plain(cfg)


def save_yaml(cfg: Any, path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))


def read_yaml(path: str | Path, _chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A YAML mapping; ``extends: OTHER.yaml`` (relative to this file) loads OTHER first and
    overlays this file on it, section by section, so variants of a recipe state only what differs."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file '{path}' not found; pass --config with the path of an existing YAML file")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"config file '{path}'{line} is not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file '{path}' must hold a mapping of keys at the top level, got {type(data).__name__}")
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str) or not parent:
        raise ConfigError(f"'extends' in {path} must be the path of another YAML file, got {parent!r}")
    parent_path = (path.parent / parent).resolve()
    chain = (*_chain, path.resolve())
    if parent_path in chain:
        raise ConfigError(f"'extends' in {path} loops back to {parent_path}; remove one link of the chain")
    if not parent_path.is_file():
        raise ConfigError(f"'extends: {parent}' in {path}: no such file {parent_path}; "
                          "the path is relative to the file that names it")
    return _overlay(read_yaml(parent_path, chain), data)


def _overlay(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _overlay(merged[key], value)
        else:
            merged[key] = value
    return merged


# --------------------------------------------------------------------------- command line

def _flag_table(cls: type, prefix: str = "") -> dict[str, tuple[str, Any, dataclasses.Field]]:
    """Map every accepted flag spelling to (dotted key, type, field)."""
    table: dict[str, tuple[str, Any, dataclasses.Field]] = {}
    for f, tp in _resolved_fields(cls):
        dotted = f"{prefix}{f.name}"
        if _is_dataclass_type(tp):
            table.update(_flag_table(tp, prefix=f"{dotted}."))
            continue
        for spelling in {dotted, dotted.replace("_", "-")}:
            table[f"--{spelling}"] = (dotted, tp, f)
        for alias in f.metadata.get("aliases", ()):
            table[alias] = (dotted, tp, f)
    return table


def _set_dotted(target: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = target
    for part in parents:
        existing = node.get(part)
        if not isinstance(existing, dict):
            existing = {}
            node[part] = existing
        node = existing
    node[leaf] = value


def _positional_fields(cls: type) -> list[dataclasses.Field]:
    return [f for f, _ in _resolved_fields(cls) if f.metadata.get("positional")]


def format_help(cls: type, prog: str, description: str = "") -> str:
    lines = [f"usage: {prog} " + " ".join(f"{f.name.upper()}" for f in _positional_fields(cls))
             + " [--config FILE] [--KEY VALUE ...]", ""]
    if description:
        lines += [description.strip(), ""]
    lines += ["options:", "  --config FILE  YAML file with any of the keys below (flags override it)",
              "  -h, --help     show this help"]

    def walk(c: type, prefix: str) -> None:
        for f, tp in _resolved_fields(c):
            dotted = f"{prefix}{f.name}"
            if _is_dataclass_type(tp):
                doc = (f.metadata.get("help") or (tp.__doc__ or "").strip().splitlines()[0:1] or [""])
                lines.append("")
                lines.append(f"{dotted}: {doc if isinstance(doc, str) else doc[0]}")
                walk(tp, f"{dotted}.")
                continue
            if f.default is not dataclasses.MISSING:
                default = f"(default: {f.default!r})"
            elif f.default_factory is not dataclasses.MISSING:
                default = f"(default: {f.default_factory()!r})"
            else:
                default = "(required)"
            flag = f.name.upper() if f.metadata.get("positional") else f"--{dotted}"
            aliases = "".join(f", {a}" for a in f.metadata.get("aliases", ()))
            lines.append(f"  {flag}{aliases} {_type_name(tp).upper()}")
            lines.append(f"      {f.metadata.get('help', '')} {default}".rstrip())
    walk(cls, "")
    return "\n".join(lines) + "\n"


def parse_args(cls: type, argv: list[str] | None, prog: str = "scotd", description: str = "") -> Any:
    """Build ``cls`` from ``--config FILE`` plus dotted flags; ``-h`` prints help and exits."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "-h" in argv or "--help" in argv:
        sys.stdout.write(format_help(cls, prog, description))
        raise SystemExit(0)
    table = _flag_table(cls)
    positional = _positional_fields(cls)
    values: dict[str, Any] = {}
    overrides: list[tuple[str, Any, str]] = []
    config_path: str | None = None
    seen_positional = 0
    i = 0
    while i < len(argv):
        token = argv[i]
        if token.startswith("--"):
            flag, eq, inline = token.partition("=")
            if flag == "--config":
                value = inline if eq else (argv[i + 1] if i + 1 < len(argv) else None)
                if value is None:
                    raise ConfigError("--config needs a path to a YAML file")
                config_path = value
                i += 1 if eq else 2
                continue
            if flag not in table:
                known = sorted(k for k in table if not k.startswith("--") or "_" not in k)
                raise ConfigError(f"unknown option '{flag}' for {prog}; valid options: --config, "
                                  f"{', '.join(known)} (see {prog} --help)")
            dotted, tp, _ = table[flag]
            if eq:
                raw, i = inline, i + 1
            elif tp is bool and (i + 1 >= len(argv) or argv[i + 1].startswith("--")):
                raw, i = "true", i + 1
            elif i + 1 < len(argv):
                raw = argv[i + 1]
                i += 2
                # list-valued flags take every following value up to the next flag
                if get_origin(tp) in (list, tuple):
                    items = [raw]
                    while i < len(argv) and not argv[i].startswith("--"):
                        items.append(argv[i])
                        i += 1
                    raw = items if len(items) > 1 else raw
            else:
                raise ConfigError(f"option '{flag}' needs a value ({_type_name(tp)})")
            overrides.append((dotted, raw, flag))
        else:
            if seen_positional >= len(positional):
                raise ConfigError(f"unexpected argument '{token}' for {prog} (see {prog} --help)")
            overrides.append((positional[seen_positional].name, token, positional[seen_positional].name))
            seen_positional += 1
            i += 1
    if config_path is not None:
        values = read_yaml(config_path)
    for dotted, raw, _ in overrides:
        _set_dotted(values, dotted, raw)
    return build(cls, values, source=config_path or "")
