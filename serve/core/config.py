"""Dataclass configs: YAML recipes plus dotted command-line overrides, parsed by jsonargparse.

Every verb declares one (possibly nested) dataclass; jsonargparse reads its signature as the
schema (types, defaults, strict keys, coercion, generated help). A value comes, in rising
priority, from the field default, the YAML file given with ``--config``, and ``--section.key
value`` flags. This module adds what the library does not do the way scotd's users expect:

* ``extends: OTHER.yaml`` in a recipe, so a variant states only what differs;
* help text from ``option(help=...)`` field metadata, flag aliases (``--in``), positional slots,
  bare boolean flags (``--resume``) and space-separated lists (``--stages train eval``);
* one-line :class:`ConfigError` messages that name the key, the file and the valid choices.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import re
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import yaml
from jsonargparse import ArgumentError, ArgumentParser, Namespace

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


# --------------------------------------------------------------------------- the schema

@dataclasses.dataclass(frozen=True)
class _Key:
    dotted: str
    type: Any
    field: dataclasses.Field


def _is_section(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _fields(cls: type) -> list[tuple[dataclasses.Field, Any]]:
    hints = typing.get_type_hints(cls)
    return [(f, hints[f.name]) for f in dataclasses.fields(cls)]


@functools.lru_cache(maxsize=None)
def _keys(cls: type, prefix: str = "") -> tuple[_Key, ...]:
    """Every leaf key of ``cls`` with its dotted name, in declaration order."""
    keys: list[_Key] = []
    for f, tp in _fields(cls):
        if _is_section(tp):
            keys.extend(_keys(tp, f"{prefix}{f.name}."))
        else:
            keys.append(_Key(f"{prefix}{f.name}", tp, f))
    return tuple(keys)


def _section_type(cls: type, dotted: str) -> type | None:
    """The dataclass at dotted path ``dotted`` ('' is ``cls`` itself)."""
    for part in filter(None, dotted.split(".")):
        hints = dict((f.name, tp) for f, tp in _fields(cls))
        cls = hints.get(part)
        if not _is_section(cls):
            return None
    return cls


def _expected(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(str(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        parts = [_expected(a) for a in get_args(tp) if a is not type(None)]
        return " or ".join(parts) + (" or null" if type(None) in get_args(tp) else "")
    if origin in (list, tuple):
        inner = get_args(tp)
        return f"a list of {_expected(inner[0])}" if inner else "a list"
    names = {int: "an integer", float: "a number", bool: "true or false", str: "a string",
             Path: "a path", dict: "a mapping"}
    return names.get(tp, origin is dict and "a mapping" or getattr(tp, "__name__", str(tp)))


def _is_optional(tp: Any) -> bool:
    return get_origin(tp) in (Union, types.UnionType) and type(None) in get_args(tp)


def _is_list(tp: Any) -> bool:
    return get_origin(tp) in (list, tuple)


@functools.lru_cache(maxsize=None)
def _parser(cls: type, prog: str = "scotd", description: str = "") -> ArgumentParser:
    positional = " ".join(k.dotted.upper() for k in _keys(cls) if k.field.metadata.get("positional"))
    parser = ArgumentParser(prog=prog, description=description or None, exit_on_error=False,
                            usage=f"{prog} {positional} [--config FILE] [--KEY VALUE ...]".replace("  ", " "))
    parser.add_argument("--config", action="config", help="YAML recipe with any of the keys below (flags override it); "
                                         "'extends: OTHER.yaml' inside it loads OTHER first")
    parser.add_class_arguments(cls, None, fail_untyped=True, sub_configs=False)
    by_dest = {k.dotted: k for k in _keys(cls)}
    sections = {f"{k.dotted.rpartition('.')[0]}" for k in _keys(cls)} - {""}
    for action in parser._actions:
        if action.dest in sections:  # the library's "--section FILE" loader: recipes go through --config
            action.help = argparse.SUPPRESS
        key = by_dest.get(action.dest)
        if key is None:
            continue
        aliases = ", ".join(key.field.metadata.get("aliases", ()))
        notes = [f"also {aliases}" if aliases else "", "positional" if key.field.metadata.get("positional") else ""]
        notes = "; ".join(n for n in notes if n)
        action.help = f"{key.field.metadata.get('help', '')}{f' ({notes})' if notes else ''}"
    for group in parser._action_groups:
        if group.title.startswith("<class"):
            dest = getattr(group, "dest", None)
            group.title = f"section {dest} (keys --{dest}.*)" if dest else "keys"
    return parser


# --------------------------------------------------------------------------- errors

def _translate(exc: Exception, cls: type, source: str, prog: str = "scotd") -> ConfigError:
    """A one-line ConfigError from a jsonargparse error: the key, the file, what is valid."""
    text = str(exc)
    where = f" in {source}" if source else ""
    unknown = re.search(r"Group '([\w.]+)' does not accept option '([\w.]+)'", text) or \
        re.search(r"()Option '([\w.]+)' is not accepted", text)
    if unknown:
        parts = [p for p in (unknown.group(1) + "." + unknown.group(2)).split(".") if p]
        depth = 0  # the deepest known section on the path names where the unknown key sits
        while depth < len(parts) - 1 and _section_type(cls, ".".join(parts[:depth + 1])) is not None:
            depth += 1
        section = ".".join(parts[:depth])
        valid = sorted(f.name for f in dataclasses.fields(_section_type(cls, section)))
        return ConfigError(f"unknown config key '{'.'.join(parts[:depth + 1])}'{where}; valid keys at "
                           f"{section or 'the top level'}: {', '.join(valid)}")
    bad = re.search(r'Parser key "([\w.]+)":', text)
    if bad:
        key = next((k for k in _keys(cls) if k.dotted == bad.group(1)), None)
        got = re.search(r"Got value: (.*)", text)
        shown = got.group(1).strip() if got else "?"
        expected = _expected(key.type) if key else "another value"
        return ConfigError(f"{bad.group(1)}{where}: expected {expected}, got {shown!r}")
    required = re.search(r"the following arguments are required: ([\w., ]+)", text)
    if required:
        flags = ", ".join(f"--{name.strip()}" for name in required.group(1).split(","))
        return ConfigError(f"{prog} needs {flags} (see {prog} --help)")
    return ConfigError(f"{' '.join(text.split())}{where}")


def _check_sections(cls: type, values: dict[str, Any], prefix: str, source: str) -> None:
    """A section given as a scalar would be read by the library as a file name: say what it is."""
    for f, tp in _fields(cls):
        if _is_section(tp) and f.name in values:
            value = values[f.name]
            if value is None:
                values[f.name] = {}
            elif not isinstance(value, dict):
                where = f" in {source}" if source else ""
                raise ConfigError(f"{prefix}{f.name}{where}: expected a section (mapping of keys), got {value!r}")
            else:
                _check_sections(tp, value, f"{prefix}{f.name}.", source)


def _plain_values(cls: type, values: dict[str, Any], source: str) -> dict[str, Any]:
    """``values`` as plain JSON types (Paths as strings), every section checked to be a mapping."""
    values = json.loads(json.dumps(values, default=str))
    _check_sections(cls, values, "", source)
    return values


def _instantiate(cls: type, ns: Namespace, source: str) -> Any:
    def make(section_cls: type, node: Namespace) -> Any:
        kwargs = {}
        for f, tp in _fields(section_cls):
            value = node.get(f.name) if isinstance(node, Namespace) else None
            kwargs[f.name] = make(tp, value if value is not None else Namespace()) if _is_section(tp) else value
        try:
            return section_cls(**kwargs)
        except UserError as exc:  # the class's own check, already one actionable line
            raise ConfigError(f"{exc}{' (in ' + source + ')' if source else ''}") from None
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{section_cls.__name__}{' in ' + source if source else ''}: {exc}") from None
    return make(cls, ns)  # required keys: jsonargparse has already refused a parse that lacks one


# --------------------------------------------------------------------------- building

def build(cls: type, values: dict[str, Any], source: str = "") -> Any:
    """Instantiate dataclass ``cls`` from a nested mapping, strictly."""
    values = _plain_values(cls, values, source)
    try:
        ns = _parser(cls).parse_object(values)
    except ArgumentError as exc:
        raise _translate(exc, cls, source) from None
    return _instantiate(cls, ns, source)


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

def format_help(cls: type, prog: str, description: str = "") -> str:
    return _parser(cls, prog, description).format_help()


def _flag_value(key: _Key, items: list[str]) -> str:
    """The one string jsonargparse reads for a flag given ``items`` on the command line."""
    if _is_list(key.type):
        if len(items) == 1 and items[0].lstrip().startswith("["):
            return items[0]
        parts = [p for item in items for p in item.split(",") if p != ""]
        return json.dumps(parts)
    value = items[0]
    if _is_optional(key.type) and value.strip().lower() in ("none", "null"):
        return "null"
    return value


def _split_argv(cls: type, argv: list[str], prog: str) -> tuple[str | None, list[str]]:
    """``--config`` and the flags in jsonargparse's spelling: aliases and positionals resolved to
    their dotted keys, a bare boolean flag meaning true, a list flag taking every value up to the next flag."""
    spellings: dict[str, _Key] = {}
    for key in _keys(cls):
        spellings[f"--{key.dotted}"] = key
        spellings[f"--{key.dotted.replace('_', '-')}"] = key
        for alias in key.field.metadata.get("aliases", ()):
            spellings[alias] = key
    positional = [k for k in _keys(cls) if k.field.metadata.get("positional")]
    config: str | None = None
    flags: list[str] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        if not token.startswith("--"):
            if not positional:
                raise ConfigError(f"unexpected argument '{token}' for {prog} (see {prog} --help)")
            flags += [f"--{positional.pop(0).dotted}", token]
            i += 1
            continue
        flag, eq, inline = token.partition("=")
        if flag == "--config":
            config = inline if eq else (argv[i + 1] if i + 1 < len(argv) else None)
            if not config:
                raise ConfigError("--config needs a path to a YAML file")
            i += 1 if eq else 2
            continue
        key = spellings.get(flag)
        if key is None:
            valid = sorted({f"--{k.dotted}" for k in _keys(cls)} |
                           {a for k in _keys(cls) for a in k.field.metadata.get("aliases", ())})
            raise ConfigError(f"unknown option '{flag}' for {prog}; valid options: --config, "
                              f"{', '.join(valid)} (see {prog} --help)")
        if eq:
            items, i = [inline], i + 1
        elif key.type is bool and (i + 1 >= len(argv) or argv[i + 1].startswith("--")):
            items, i = ["true"], i + 1
        elif i + 1 < len(argv):
            items, i = [argv[i + 1]], i + 2
            while _is_list(key.type) and i < len(argv) and not argv[i].startswith("--"):
                items.append(argv[i])
                i += 1
        else:
            raise ConfigError(f"option '{flag}' needs a value ({_expected(key.type)})")
        if key.type is bool and items[0].strip().lower() in ("yes", "1", "on", "no", "0", "off"):
            items = ["true" if items[0].strip().lower() in ("yes", "1", "on") else "false"]
        flags += [f"--{key.dotted}", _flag_value(key, items)]
    return config, flags


def parse_args(cls: type, argv: list[str] | None, prog: str = "scotd", description: str = "") -> Any:
    """Build ``cls`` from ``--config FILE`` plus dotted flags; ``-h`` prints help and exits."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "-h" in argv or "--help" in argv:
        sys.stdout.write(format_help(cls, prog, description))
        raise SystemExit(0)
    config, flags = _split_argv(cls, argv, prog)
    values = _plain_values(cls, read_yaml(config) if config is not None else {}, config or "")
    from_flags = set(flags[::2])
    try:
        # one parse, the recipe first: jsonargparse layers the flags over it and checks required keys once
        ns = _parser(cls).parse_args((["--config", yaml.safe_dump(values)] if values else []) + flags)
    except ArgumentError as exc:
        key = re.search(r'Parser key "([\w.]+)"', str(exc))
        given_as_flag = key is not None and f"--{key.group(1)}" in from_flags
        raise _translate(exc, cls, "" if given_as_flag else config or "", prog) from None
    return _instantiate(cls, ns, config or "")
