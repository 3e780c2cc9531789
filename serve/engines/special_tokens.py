"""When a prompt's ids get the tokenizer's special tokens (its BOS), and which ids end a generation.

One rule for everything that encodes a prompt: the PyTorch and ONNX engines, the export gates,
the Hugging Face teacher and the training data. A chat template writes the BOS text itself, so a
prompt that already starts with it is encoded without special tokens (a second BOS shifts every
position); any other prompt gets the tokenizer's usual ones. Tokenizer-agnostic: nothing here
imports transformers or tokenizers.
"""

from __future__ import annotations

from typing import Any, Optional, Union

EosSource = Union[int, list[int], tuple[int, ...], None]


def adds_special_tokens(prompt: str, bos_token: Optional[str]) -> bool:
    """Whether ``prompt`` is encoded with the tokenizer's special tokens: not when it starts with ``bos_token``."""
    return not (bos_token and prompt.startswith(bos_token))


def encode_prompt(tokenizer: Any, prompt: str) -> list[int]:
    """A transformers tokenizer's ids for ``prompt`` under that rule."""
    return tokenizer(prompt, add_special_tokens=adds_special_tokens(prompt, tokenizer.bos_token))["input_ids"]


def eos_ids(*sources: EosSource) -> set[int]:
    """The ids that end a generation: every id in ``sources``, each an id, a list or tuple of ids, or None
    (a generation config's ``eos_token_id`` comes in all three forms, a tokenizer's as an id or None)."""
    ids: set[int] = set()
    for source in sources:
        if source is not None:
            ids.update(int(i) for i in (source if isinstance(source, (list, tuple)) else [source]))
    return ids
