"""One question in, one reasoned reply out: what the app, the terminal chat and ``scotd infer`` share.

A reply is the generated text split by the student format into reasoning steps and
a final answer, parsed to its canonical form ("(b)", "yes", "8"), with the timing a
user sees: time to first token and decode tokens per second.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterator, Optional, Sequence

from serve.core.answers import LETTERS, infer_answer_type, last_named_option, majority_vote, parse_answer
from serve.core.student_format import reasoning_steps, render_prompt, split_reasoning
from serve.engines.interface import Engine, SamplingParams

@dataclass
class Reply:
    text: str = ""
    answer: Optional[str] = None  # canonical, e.g. "(a)"; None while streaming or when unparsed
    answer_phrase: Optional[str] = None  # what followed "So the answer is", for display
    contradiction: Optional[str] = None  # an option the text names after (or instead of) its answer
    tokens: int = 0
    ttft_s: Optional[float] = None
    elapsed_s: float = 0.0
    done: bool = False

    @property
    def reasoning(self) -> str:
        return split_reasoning(self.text)[0] if self.done else self.text.strip()

    @property
    def steps(self) -> list[str]:
        return reasoning_steps(self.reasoning)

    @property
    def decode_tok_s(self) -> Optional[float]:
        """Tokens after the first, per second after the first: the steady decode speed."""
        if self.ttft_s is None or self.tokens < 2 or self.elapsed_s <= self.ttft_s:
            return None
        return (self.tokens - 1) / (self.elapsed_s - self.ttft_s)

    def stats_line(self) -> str:
        parts = [f"{self.tokens} tokens"]
        if self.ttft_s is not None:
            parts.append(f"first token {self.ttft_s:.2f} s")
        if self.decode_tok_s is not None:
            parts.append(f"{self.decode_tok_s:.1f} tok/s")
        parts.append(f"total {self.elapsed_s:.2f} s")
        return " · ".join(parts)


def parse_options(text: str | Sequence[str] | None) -> Optional[list[str]]:
    """Answer options from a text field: one per line, or ``;``-separated; ``(a)`` prefixes dropped."""
    if text is None:
        return None
    items = list(text) if not isinstance(text, str) else re.split(r"\n|;", text)
    cleaned = [re.sub(r"^\s*\(?[a-zA-Z]\)\s+", "", item).strip() for item in items]
    cleaned = [c for c in cleaned if c]
    return cleaned or None


def display_answer(answer: Optional[str], choices: Optional[Sequence[str]], phrase: Optional[str]) -> str:
    if answer is None:
        return phrase or "(no answer found)"
    match = re.fullmatch(r"\(([a-z])\)", answer)
    if match and choices and LETTERS.index(match.group(1)) < len(choices):
        return f"{answer} {choices[LETTERS.index(match.group(1))]}"
    return answer


def _count(engine: Engine, text: str, chunks: int) -> int:
    try:
        return engine.count_tokens(text)
    except NotImplementedError:
        return chunks


def finish(reply: Reply, engine: Engine, choices: Optional[Sequence[str]], answer_type: Optional[str],
           chunks: int) -> Reply:
    reply.done = True
    reply.tokens = _count(engine, reply.text, chunks)
    reply.answer_phrase = split_reasoning(reply.text)[1]
    reply.answer = parse_answer(reply.text, choices=choices, answer_type=answer_type or infer_answer_type(choices))
    if choices and reply.answer is not None:
        named_last = last_named_option(reply.text, choices)
        reply.contradiction = named_last if named_last not in (None, reply.answer) else None
    return reply


def stream_reply(engine: Engine, question: str, choices: Optional[Sequence[str]], sampling: SamplingParams,
                 answer_type: Optional[str] = None) -> Iterator[Reply]:
    """Yield the growing reply after every chunk; the last one is ``done`` and parsed."""
    prompt = render_prompt(question, choices, tokenizer=engine)
    reply, chunks, start = Reply(), 0, time.perf_counter()
    for chunk in engine.stream_prompt(prompt, sampling):
        if reply.ttft_s is None:
            reply.ttft_s = time.perf_counter() - start
        chunks += 1
        reply.text += chunk
        reply.elapsed_s = time.perf_counter() - start
        yield dataclasses.replace(reply)
    reply.elapsed_s = time.perf_counter() - start
    yield finish(reply, engine, choices, answer_type, chunks)


@dataclass
class Vote:
    replies: list[Reply] = field(default_factory=list)
    tally: Counter = field(default_factory=Counter)
    temperature: float = 0.0

    @property
    def winner(self) -> Optional[str]:
        return majority_vote([r.answer for r in self.replies])[0]

    def table(self, choices: Optional[Sequence[str]] = None) -> str:
        rows = [f"| {display_answer(a, choices, a)} | {n} |" for a, n in self.tally.most_common()]
        unparsed = sum(r.answer is None for r in self.replies)
        if unparsed:
            rows.append(f"| (no answer found) | {unparsed} |")
        return (f"Self-consistency: {len(self.replies)} samples at temperature {self.temperature:g}\n\n"
                "| answer | votes |\n|---|---|\n" + "\n".join(rows))


def self_consistency(engine: Engine, question: str, choices: Optional[Sequence[str]], sampling: SamplingParams,
                     answer_type: Optional[str] = None, first: Optional[Reply] = None) -> Vote:
    """Majority vote over ``sampling.n`` sampled replies (``first``, already streamed, counts as one)."""
    sampling = sampling.for_vote()
    replies = [first] if first is not None else []
    missing = sampling.n - len(replies)
    if missing > 0:
        prompt = render_prompt(question, choices, tokenizer=engine)
        for text in engine.generate([prompt], dataclasses.replace(sampling, n=missing))[0]:
            replies.append(finish(Reply(text=text), engine, choices, answer_type, 1))
    tally = Counter(majority_vote([r.answer for r in replies])[1])
    return Vote(replies=replies, tally=tally, temperature=sampling.temperature)
