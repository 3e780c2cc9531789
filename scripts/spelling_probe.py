"""Can a model spell? Each model is asked, greedy and 3-shot, to spell generated word-sorting vocabulary
words letter by letter; prints, per model, how often the whole word and each of its first letters
come out right (95% bootstrap intervals over words).

    python scripts/spelling_probe.py models/smollm2-135m-instruct/hf runs/pilot/words-tagged-more/train/student

Why it exists: word-sorting students name a word's first letter (97-98%) but not its second (15%)
when two listed words share a first letter (docs/RESULTS.md, "Word sorting"). A format that spells
tied words out would help only if the model can spell; this measures whether it can.
"""

from __future__ import annotations

import argparse
import random

import numpy as np

SHOTS = "Spell each word letter by letter.\nharbor: h a r b o r\nmeadow: m e a d o w\nclinic: c l i n i c\n"
POSITIONS = 4


def letters_right(spelled: list[str], word: str) -> list[bool]:
    """Whether each of the word's first ``POSITIONS`` letters is spelled right, then the whole word."""
    return [len(spelled) > k and spelled[k] == word[k] for k in range(POSITIONS)] + [spelled == list(word)]


def spell(model, tokenizer, word: str) -> list[str]:
    import torch

    ids = tokenizer(f"{SHOTS}{word}:", return_tensors="pt").input_ids
    with torch.no_grad():
        out = model.generate(ids, max_new_tokens=2 * len(word) + 2, do_sample=False)
    return tokenizer.decode(out[0, ids.shape[1]:]).split("\n")[0].split()


def probe_words(count: int, seed: int) -> list[str]:
    from serve.data.generators.word_sorting import vocabulary

    words = [w for w in vocabulary() if w.isalpha() and 4 <= len(w) <= 10 and w not in SHOTS]
    random.Random(seed).shuffle(words)
    return words[:count]


def cell(hits: np.ndarray) -> str:
    from distill.intervals import bootstrap_interval

    low, high = bootstrap_interval(hits, resamples=2000)
    return f"{100 * hits.mean():.0f}% [{100 * low:.0f}, {100 * high:.0f}]"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", help="Hugging Face model folders")
    parser.add_argument("--words", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    words = probe_words(args.words, args.seed)
    header = ["model", *(f"letter {k + 1}" for k in range(POSITIONS)), "whole word"]
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for path in args.models:
        tokenizer, model = AutoTokenizer.from_pretrained(path), AutoModelForCausalLM.from_pretrained(path).eval()
        hits = np.array([letters_right(spell(model, tokenizer, word), word) for word in words], dtype=float)
        lines.append(f"| {path} ({len(words)} words) | " + " | ".join(cell(hits[:, k]) for k in range(hits.shape[1])) + " |")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
