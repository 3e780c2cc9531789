"""Render a Hugging Face chat template with jinja2 alone, so serving needs no transformers.

The template comes from ``chat_template.jinja`` (transformers >= 4.43 writes it there)
or the ``chat_template`` key of ``tokenizer_config.json``. Rendering follows what
transformers does: a sandboxed environment with ``trim_blocks``/``lstrip_blocks``,
the special tokens as variables, ``raise_exception`` and ``strftime_now``.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

from serve.core.errors import UserError


def read_chat_template(model_dir: Path) -> Optional[str]:
    """The folder's chat template text, or None when it has none."""
    jinja_file = model_dir / "chat_template.jinja"
    if jinja_file.is_file():
        return jinja_file.read_text()
    config = read_tokenizer_config(model_dir)
    template = config.get("chat_template")
    if isinstance(template, list):  # named templates: use "default"
        named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
        template = named.get("default") or next(iter(named.values()), None)
    return template or None


def read_tokenizer_config(model_dir: Path) -> dict[str, Any]:
    path = model_dir / "tokenizer_config.json"
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise UserError(f"'{path}' is not valid JSON ({exc}); re-export the model or restore the file") from None


def token_text(value: Any) -> Optional[str]:
    """A special token as text: tokenizer configs store it as a string or an AddedToken dict."""
    if isinstance(value, dict):
        return value.get("content")
    return value if isinstance(value, str) else None


def _raise(message: str) -> None:
    raise UserError(f"chat template refused the messages: {message}")


@lru_cache(maxsize=16)
def _compile(template: str):
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
    env.filters["tojson"] = lambda value, indent=None: json.dumps(value, indent=indent, ensure_ascii=False)
    env.globals["raise_exception"] = _raise
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env.from_string(template)


def render_chat(template: str, messages: list[dict[str, str]], add_generation_prompt: bool = True,
                **special_tokens: Optional[str]) -> str:
    """The prompt string for ``messages``; ``special_tokens`` are bos_token, eos_token, ..."""
    return _compile(template).render(messages=messages, add_generation_prompt=add_generation_prompt,
                                     **{k: v or "" for k, v in special_tokens.items()})
