"""Generated questions: ``gen:FAMILY[/SIZE][?key=value&...]``, the default training data.

``gen:tracking_shuffled_objects/five_objects`` draws new questions from the family's generator
(``serve.data.generators``) with the size's parameters; ``?key=value`` sets any parameter
(``gen:tracking_shuffled_objects?objects=9&wording=heldout``). Questions are drawn from a
generator seeded by (family, parameters, seed), so the same source and seed give the same list.

Splits are disjoint whatever the seed: a question's split is decided by a hash of its text
(``SPLIT_FRACTIONS``), so a test question can never be drawn as a training question by another
seed or run. ``Example.task`` is ``gen:FAMILY/SIZE`` (plus any parameter set), so per-task tables
keep sizes apart. Duplicates are dropped, and so is any question equal to a BBH item (compared by
``serve.data.bbh.question_key`` against the keys shipped in ``bbh_question_keys.txt``), so a
generated training set never holds an evaluation item; the questions of the BBH paper's 3-shot
prompts are banned the same way (``scripts/bbh_question_keys.py`` writes the file). ``limit``
defaults to ``DEFAULT_COUNT``; ``?count=N`` sets it for one source of a mixture (``gen:navigate?count=600
+ gen:web_of_lies``: 600 navigate questions beside ``limit`` of the other), the first N of the same draws.
"""

from __future__ import annotations

import hashlib
import random
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional
from urllib.parse import parse_qsl, urlencode

from serve.core.errors import UserError
from serve.core.records import Example
from serve.data.bbh import question_key
from serve.data.generators import FAMILIES, Generator, generator

DEFAULT_COUNT = 1000
SPLIT_FRACTIONS = {"train": 0.8, "dev": 0.1, "test": 0.1}
MAX_DRAWS_PER_QUESTION = 200  # a size with fewer distinct questions than asked stops with a clear error
_KEYS = Path(__file__).with_name("bbh_question_keys.txt")


@lru_cache(maxsize=1)
def bbh_question_keys() -> frozenset[str]:
    return frozenset(_KEYS.read_text().split())


def split_of(question: str) -> str:
    fraction = int(hashlib.sha256(question.encode()).hexdigest()[:8], 16) / 16 ** 8
    total = 0.0
    for name, share in SPLIT_FRACTIONS.items():
        total += share
        if fraction < total:
            return name
    return "test"


def _value(text: str, default: Any) -> Any:
    """A query-string value typed like the parameter's default."""
    if isinstance(default, bool):
        return text.lower() in ("1", "true", "yes")
    if isinstance(default, int):
        return int(text)
    if isinstance(default, float):
        return float(text)
    return text


def parse_spec(spec: str) -> tuple[Generator, str, dict[str, Any]]:
    """'tracking_shuffled_objects/five_objects?wording=varied' -> (generator, size, parameters)."""
    path, _, query = spec.partition("?")
    family, _, size = path.strip("/").partition("/")
    if family not in FAMILIES:
        raise UserError(f"no generator for '{family}'; use gen:FAMILY[/SIZE] with one of: {', '.join(FAMILIES)}")
    gen = generator(family)
    size = size or gen.default_size
    if size not in gen.sizes:
        raise UserError(f"gen:{family} has no size '{size}'; use one of: {', '.join(gen.sizes)}")
    overrides: dict[str, Any] = {}
    for key, text in parse_qsl(query, keep_blank_values=True):
        if key not in gen.parameters:
            raise UserError(f"gen:{family} has no parameter '{key}'; valid: {', '.join(gen.parameters)}")
        try:
            overrides[key] = _value(text, gen.parameters[key])
        except ValueError:
            raise UserError(f"gen:{family}: parameter {key}={text!r} must be a {type(gen.parameters[key]).__name__}") \
                from None
    params = gen.params_for(size, overrides)
    if params.get("wording", "bbh") not in gen.wordings:
        raise UserError(f"gen:{family} has no wording '{params['wording']}'; use one of: {', '.join(gen.wordings)}")
    return gen, size, params


def _label(size: str, overrides: dict[str, Any]) -> str:
    return size + "".join(f",{k}={v}" for k, v in sorted(overrides.items()))


def own_count(spec: str) -> tuple[str, Optional[int]]:
    """'navigate?count=600&wording=varied' -> ('navigate?wording=varied', 600): a source's own question count."""
    path, _, query = spec.partition("?")
    pairs = parse_qsl(query, keep_blank_values=True)
    counts = [text for key, text in pairs if key == "count"]
    if not counts:
        return spec, None
    if not counts[-1].isdigit():
        raise UserError(f"gen:{spec}: count={counts[-1]!r} must be a whole number of questions")
    rest = urlencode([(key, text) for key, text in pairs if key != "count"])
    return path + (f"?{rest}" if rest else ""), int(counts[-1])


def load_generated(spec: str, split: str = "train", limit: Optional[int] = None, seed: int = 0) -> list[Example]:
    """``limit`` (default ``DEFAULT_COUNT``; ``?count=N`` in the spec wins) new questions of ``split``
    (train, dev, test or all)."""
    full_spec, (spec, count) = spec, own_count(spec)
    gen, size, params = parse_spec(spec)
    count = count if count is not None else DEFAULT_COUNT if limit is None else limit
    defaults = gen.params_for(size, {})
    label = _label(size, {k: v for k, v in params.items() if defaults.get(k) != v})
    rng = random.Random(f"gen|{gen.family}|{sorted(params.items())}|{seed}")
    seen: set[str] = set()
    examples: list[Example] = []
    banned = bbh_question_keys()
    for _ in range(max(count, 1) * MAX_DRAWS_PER_QUESTION):
        if len(examples) >= count:
            break
        try:
            drawn = gen.draw(rng, params)
        except ValueError as exc:  # parameters the generator cannot satisfy (e.g. a depth beyond the length)
            raise UserError(f"gen:{spec}: {exc}") from None
        key = question_key(drawn.question)
        if key in seen or key in banned:
            continue
        seen.add(key)
        question_split = split_of(drawn.question)
        if split != "all" and question_split != split:
            continue
        meta = {**drawn.meta, "source": f"gen:{full_spec}", "params": params}
        examples.append(Example(f"{gen.family}/{label}/{key[:12]}", f"gen:{gen.family}/{label}", drawn.question,
                                drawn.answer, drawn.choices, question_split, meta, drawn.answer_type))
    if len(examples) < count:
        raise UserError(f"gen:{full_spec} yields only {len(examples)} distinct {split} questions (asked {count}); "
                        "ask for fewer (data.limit or ?count=) or a larger size")
    return examples
