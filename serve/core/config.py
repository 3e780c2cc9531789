"""Dataclass configs: YAML recipes plus dotted command-line overrides.

Every verb declares one (possibly nested) dataclass: its fields are the keys (``--section.key``),
their types the schema. A value comes, in rising priority, from the field default, the YAML file
given with ``--config``, and flags. The libraries own their parts: argparse splits argv (aliases
such as ``--in``, a positional slot, a bare boolean flag, a list over several words) and
jsonargparse checks and converts every value to its type and writes the help. scotd adds
``extends: OTHER.yaml`` in a recipe (a variant states only what differs) and, because it checks
each key against the dataclass before the library sees it, one-line :class:`ConfigError`
messages that name the key, the file and what is valid, with no reading of library messages.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import functools
import json
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




def defaults(cls: type) -> dict[str, Any]:
    """Every key's default, nested by section, as plain JSON types; a section built by a
    ``default_factory`` gives its own values. Keys without a default are left out."""
    values: dict[str, Any] = {}
    for f, tp in _fields(cls):
        if f.default is not dataclasses.MISSING:
            values[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            values[f.name] = f.default_factory()
        elif _is_section(tp):
            values[f.name] = defaults(tp)
    return json.loads(json.dumps(to_dict(values), default=str))


def _lookup(tree: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(tree, dict) or part not in tree:
            return dataclasses.MISSING
        tree = tree[part]
    return tree


def _positional(cls: type) -> list[_Key]:
    """Positional slots: top-level keys only (a nested config's slot is not its parent's)."""
    return [k for k in _keys(cls) if k.field.metadata.get("positional") and "." not in k.dotted]


def _aliases(key: _Key) -> tuple[str, ...]:
    """A top-level key's other spellings (``--in``); a nested config's aliases are not its parent's."""
    return () if "." in key.dotted else tuple(key.field.metadata.get("aliases", ()))


def _help(key: _Key, cls: type) -> str:
    aliases = ", ".join(_aliases(key))
    notes = [f"also {aliases}" if aliases else "", "positional" if key in _positional(cls) else ""]
    notes = "; ".join(n for n in notes if n)
    return f"{key.field.metadata.get('help', '')}{f' ({notes})' if notes else ''}"


# --------------------------------------------------------------------------- the two parsers

@functools.lru_cache(maxsize=None)
def _typed_parser(cls: type, prog: str = "scotd", description: str = "") -> ArgumentParser:
    """jsonargparse's parser of ``cls``: one argument a key, with its type, default and help."""
    slots = " ".join(k.dotted.upper() for k in _positional(cls))
    parser = ArgumentParser(prog=prog, description=description or None, exit_on_error=False,
                            usage=f"{prog} {slots} [--config FILE] [--KEY VALUE ...]".replace("  ", " "))
    parser.add_argument("--config", type=str, help="YAML recipe with any of the keys below (flags override it); "
                                                   "'extends: OTHER.yaml' inside it loads OTHER first")
    known, groups = defaults(cls), {}
    for key in _keys(cls):
        section = key.dotted.rpartition(".")[0]
        if section and section not in groups:
            groups[section] = parser.add_argument_group(f"section {section} (keys --{section}.*)")
        default = _lookup(known, key.dotted)
        extra = {"required": True} if default is dataclasses.MISSING else {"default": default}
        groups.get(section, parser).add_argument(f"--{key.dotted}", *_aliases(key),
                                                 type=key.type, help=_help(key, cls), **extra)
    return parser


class _ArgvParser(argparse.ArgumentParser):
    """The standard library's argv splitter; its own complaints (a flag without its value) become one line."""

    def error(self, message: str):
        raise ConfigError(f"{self.prog}: {message} (see {self.prog} --help)")


@functools.lru_cache(maxsize=None)
def _argv_parser(cls: type, prog: str) -> _ArgvParser:
    """Splits argv into the values given for each key, as words; jsonargparse converts them after."""
    parser = _ArgvParser(prog=prog, add_help=False, allow_abbrev=False)
    parser.add_argument("--config", default=argparse.SUPPRESS)
    for key in _keys(cls):
        shape = ({"nargs": "?", "const": "true"} if key.type is bool else
                 {"nargs": "+"} if _is_list(key.type) else {})
        dashed = [f"--{key.dotted.replace('_', '-')}"] if "_" in key.dotted else []  # --per-instance
        parser.add_argument(f"--{key.dotted}", *dashed, *_aliases(key), dest=key.dotted,
                            default=argparse.SUPPRESS, **shape)
    for key in _positional(cls):
        parser.add_argument(key.dotted, nargs="?", default=argparse.SUPPRESS)
    return parser


# --------------------------------------------------------------------------- checking

@functools.lru_cache(maxsize=None)
def _value_parser(tp: Any) -> ArgumentParser:
    """A one-key parser: jsonargparse's check and conversion of one value of type ``tp``."""
    parser = ArgumentParser(exit_on_error=False)
    parser.add_argument("--value", type=tp)
    return parser


def _checked(key: _Key, value: Any, where: str) -> Any:
    """``value`` converted to ``key``'s type, or a ConfigError naming the key, the place and the type."""
    try:
        return _value_parser(key.type).parse_object({"value": value}).value
    except ArgumentError:
        raise ConfigError(f"{key.dotted}{where}: expected {_expected(key.type)}, got {value!r}") from None


def _check_values(cls: type, values: dict[str, Any], source: str, prefix: str = "") -> None:
    """Every key of ``values`` is a field of ``cls``; sections are mappings; each leaf converted in place."""
    where = f" in {source}" if source else ""
    by_name = {f.name: (f, tp) for f, tp in _fields(cls)}
    for name in list(values):
        if name not in by_name:
            section = prefix.rstrip(".")
            raise ConfigError(f"unknown config key '{prefix}{name}'{where}; valid keys at "
                              f"{section or 'the top level'}: {', '.join(sorted(by_name))}")
        f, tp = by_name[name]
        if not _is_section(tp):
            values[name] = _checked(_Key(f"{prefix}{name}", tp, f), values[name], where)
        elif values[name] is None:
            values[name] = {}
        elif not isinstance(values[name], dict):
            raise ConfigError(f"{prefix}{name}{where}: expected a section (mapping of keys), got {values[name]!r}")
        else:
            _check_values(tp, values[name], source, f"{prefix}{name}.")


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
    return make(cls, ns)


def _finish(cls: type, values: dict[str, Any], source: str, prog: str = "scotd") -> Any:
    """``cls`` from checked values: the required keys present, the defaults filled in by jsonargparse."""
    known = defaults(cls)
    missing = [k.dotted for k in _keys(cls) if _lookup(values, k.dotted) is dataclasses.MISSING
               and _lookup(known, k.dotted) is dataclasses.MISSING]
    if missing:
        raise ConfigError(f"{prog} needs {', '.join('--' + m for m in missing)} (see {prog} --help)")
    try:
        ns = _typed_parser(cls).parse_object(values)
    except ArgumentError as exc:  # every key was checked above: say what the library says, on one line
        raise ConfigError(f"{' '.join(str(exc).split())}{' in ' + source if source else ''}") from None
    return _instantiate(cls, ns, source)


def _plain_values(values: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(values, default=str))


# --------------------------------------------------------------------------- building

def build(cls: type, values: dict[str, Any], source: str = "") -> Any:
    """Instantiate dataclass ``cls`` from a nested mapping, strictly."""
    values = _plain_values(values)
    _check_values(cls, values, source)
    return _finish(cls, values, source)


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
    return _typed_parser(cls, prog, description).format_help()


def _flag_value(key: _Key, given: Any) -> Any:
    """The value a flag's words mean: a list from several words, commas or one ``[a, b]``; none/null
    for an optional key; yes/no/on/off/1/0 for a boolean. jsonargparse converts the words after."""
    if _is_list(key.type):
        if len(given) == 1 and given[0].lstrip().startswith("["):
            return yaml.safe_load(given[0])
        return [part for word in given for part in word.split(",") if part != ""]
    if _is_optional(key.type) and given.strip().lower() in ("none", "null"):
        return None
    if key.type is bool and given.strip().lower() in ("yes", "1", "on", "no", "0", "off"):
        return given.strip().lower() in ("yes", "1", "on")
    return given


def _unknown_flag(cls: type, word: str, prog: str) -> ConfigError:
    """The word argparse could not place: a stray value, or a flag named with its nearest spelling
    and the keys of the deepest section it names."""
    if not word.startswith("-"):
        return ConfigError(f"unexpected argument '{word}' for {prog} (see {prog} --help)")
    flag = word.partition("=")[0]
    spellings = [f"--{k.dotted}" for k in _keys(cls)] + [a for k in _keys(cls) for a in _aliases(k)]
    near = difflib.get_close_matches(flag, spellings, n=1)
    parts = flag.lstrip("-").split(".")
    depth = 0
    while depth < len(parts) - 1 and _section_type(cls, ".".join(parts[:depth + 1])) is not None:
        depth += 1
    section = ".".join(parts[:depth])
    valid = ", ".join(sorted(f.name for f in dataclasses.fields(_section_type(cls, section))))
    hint = f"did you mean {near[0]}? " if near else ""
    return ConfigError(f"unknown option '{flag}' for {prog}; {hint}keys at {section or 'the top level'}: {valid} "
                       f"(see {prog} --help)")


def _set(tree: dict[str, Any], dotted: str, value: Any) -> None:
    *sections, leaf = dotted.split(".")
    for part in sections:
        tree = tree.setdefault(part, {})
    tree[leaf] = value


def parse_args(cls: type, argv: list[str] | None, prog: str = "scotd", description: str = "") -> Any:
    """Build ``cls`` from ``--config FILE`` plus dotted flags; ``-h`` prints help and exits."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "-h" in argv or "--help" in argv:
        sys.stdout.write(format_help(cls, prog, description))
        raise SystemExit(0)
    given, extra = _argv_parser(cls, prog).parse_known_intermixed_args(argv)  # slots may follow flags
    if extra:
        raise _unknown_flag(cls, extra[0], prog)
    flags = vars(given)
    config = flags.pop("config", None)
    if config is not None and not config:
        raise ConfigError("--config needs a path to a YAML file")
    values = _plain_values(read_yaml(config)) if config is not None else {}
    _check_values(cls, values, config or "")
    by_dotted = {k.dotted: k for k in _keys(cls)}
    for dotted, words in flags.items():  # flags after the recipe: they override it
        key = by_dotted[dotted]
        _set(values, dotted, _checked(key, _flag_value(key, words), ""))
    return _finish(cls, values, config or "", prog)
