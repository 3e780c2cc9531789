"""What the Gradio app does on each click, as plain generators (no Gradio layout here).

Every handler yields complete output values as the reply streams. Engine failures
and over-long inputs become messages in the UI rather than exceptions, so one bad
request never takes the server down.
"""

from __future__ import annotations

import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

from serve.apps.model_pick import EngineCache
from serve.apps.reply import Reply, Vote, display_answer, parse_options, self_consistency, stream_reply
from serve.core.errors import UserError
from serve.core.student_format import student_info
from serve.engines.interface import SamplingParams

THINKING_TITLE = "Thinking"

BUILTIN_EXAMPLES = [
    ["Would a pear sink in water?", ""],
    ["Today is Christmas Eve of 1937. What is the date tomorrow in MM/DD/YYYY?",
     "12/11/1937\n12/25/1937\n01/04/1938\n12/04/1937\n12/25/2006\n07/25/1937"],
    ["Alice, Bob, and Claire are holding a red, a green and a blue ball. Alice and Bob swap balls, "
     "then Bob and Claire swap balls. At the end, which ball does Bob have? Alice started with red, "
     "Bob with green, Claire with blue.", "red ball\ngreen ball\nblue ball"],
]


@dataclass
class Limits:
    max_input_chars: int = 2000


MAX_EXAMPLE_SOURCES = 6  # a many-task student shows its first few tasks, not a page of examples


def examples_source(model_dir: Path, fallback: str) -> str:
    """The question source a distilled student trained on (its held-out questions are the examples
    that show what it learned), else ``fallback``; at most ``MAX_EXAMPLE_SOURCES`` of a mixture."""
    from serve.data.sources import mixture_parts

    trained_on = student_info(model_dir).get("examples") or ""
    parts = mixture_parts(trained_on) if trained_on else []
    return " + ".join(parts[:MAX_EXAMPLE_SOURCES]) if parts else fallback


def load_example_questions(source: str, limit: int = 8) -> tuple[list[list[str]], str]:
    """(question, options text) pairs from a data source (``limit`` per source of a mixture), or built-in ones and why."""
    if not source:
        return BUILTIN_EXAMPLES, "built-in example questions"
    try:
        from serve.data.sources import load_examples

        examples = load_examples(source, split="test", limit=limit)
    except (UserError, ImportError, OSError) as exc:
        return BUILTIN_EXAMPLES, f"built-in example questions ({source} could not be read: {exc})"
    pairs = [[e.question, "\n".join(e.choices or [])] for e in examples]
    return (pairs or BUILTIN_EXAMPLES), f"examples from {source} (test split)"


def steps_markdown(reply: Reply) -> str:
    steps = reply.steps
    if not steps:
        return "…"
    return "\n".join(f"{i}. {step}" for i, step in enumerate(steps, start=1))


def answer_markdown(reply: Reply, choices, vote: Optional[Vote] = None) -> str:
    if not reply.done:
        return "*thinking…*"
    if vote is not None and vote.winner is not None:
        return f"### Answer: {display_answer(vote.winner, choices, vote.winner)} (majority of {len(vote.replies)})"
    said = display_answer(reply.answer, choices, reply.answer_phrase)
    if reply.contradiction is not None:  # never highlight an answer the text itself goes on to contradict
        named = display_answer(reply.contradiction, choices, reply.contradiction)
        return (f"### Answer: unclear\n\n⚠️ The answer line says **{said}**, but the text names **{named}** "
                "last; the reasoning contradicts itself.")
    if reply.answer is not None and reply.answer_phrase is None:
        return f"### Answer: {said}\n\n*(no \"So the answer is\" line: read from the end of the text)*"
    return f"### Answer: {said}"


def chat_messages(question_text: str, reply: Reply, choices, vote: Optional[Vote] = None) -> list[dict]:
    # Gradio folds a thought whose status is "done"; a finished one carries no status so the
    # steps stay unfolded (the user can still fold them) and shows its duration instead.
    metadata = {"title": THINKING_TITLE, "duration": round(reply.elapsed_s, 2)} if reply.done \
        else {"title": THINKING_TITLE, "status": "pending"}
    thinking = {"role": "assistant", "content": steps_markdown(reply), "metadata": metadata}
    messages = [{"role": "user", "content": question_text}, thinking]
    if reply.done:
        messages.append({"role": "assistant", "content": answer_markdown(reply, choices, vote)})
    return messages


def _error_text(exc: BaseException) -> str:
    if not isinstance(exc, UserError):
        traceback.print_exc(file=sys.stderr)
    return f"⚠️ The model failed on this request: {exc}"


def _too_long(text: str, limits: Limits) -> Optional[str]:
    if len(text) > limits.max_input_chars:
        return (f"⚠️ Input too long: {len(text)} characters; the limit is {limits.max_input_chars} "
                "(shorten the question, or restart with scotd serve --max_input_chars N).")
    return None


def sampling_from(temperature: float, top_p: float, max_tokens: int, n: int = 1) -> SamplingParams:
    return SamplingParams(n=max(1, int(n)), max_new_tokens=int(max_tokens), temperature=float(temperature),
                          top_p=float(top_p))


def ask(engines: EngineCache, models: dict[str, Path], limits: Limits, history: list, question: str,
        options: str, model_label: str, temperature: float, top_p: float, max_tokens: int,
        n: int) -> Iterator[tuple[list, str, str, str]]:
    """Chat tab: yields (chat history, answer, stats, vote table)."""
    history = list(history or [])
    question = (question or "").strip()
    choices = parse_options(options)
    shown = question + ("".join(f"\n({chr(97 + i)}) {c}" for i, c in enumerate(choices)) if choices else "")
    if not question:
        yield history, "", "Type a question first.", ""
        return
    problem = _too_long(shown, limits)
    if problem:
        yield history + [{"role": "user", "content": shown[:200] + "…"},
                         {"role": "assistant", "content": problem}], "", problem, ""
        return
    sampling = sampling_from(temperature, top_p, max_tokens, n).for_vote()
    reply = Reply()
    try:
        engine = engines.get(models.get(model_label, model_label))
        for reply in stream_reply(engine, question, choices, sampling):
            yield history + chat_messages(shown, reply, choices), answer_markdown(reply, choices), \
                reply.stats_line(), ""
        if sampling.n > 1:
            yield history + chat_messages(shown, reply, choices), answer_markdown(reply, choices), \
                reply.stats_line() + f" · sampling {sampling.n - 1} more for the vote…", ""
            vote = self_consistency(engine, question, choices, sampling, first=reply)
            yield history + chat_messages(shown, reply, choices, vote), answer_markdown(reply, choices, vote), \
                reply.stats_line(), vote.table(choices)
    except Exception as exc:  # noqa: BLE001 - shown to the user, logged for the operator
        message = _error_text(exc)
        yield history + [{"role": "user", "content": shown}, {"role": "assistant", "content": message}], \
            "### Answer: (error)", message, ""


def reply_card(label: str, reply: Reply, choices) -> str:
    return (f"**{label}**\n\n{answer_markdown(reply, choices)}\n\n<details open><summary>{THINKING_TITLE}</summary>"
            f"\n\n{steps_markdown(reply)}\n\n</details>\n\n<small>{reply.stats_line()}</small>")


def compare(engines: EngineCache, models: dict[str, Path], limits: Limits, question: str, options: str,
            model_a: str, model_b: str, temperature: float, top_p: float,
            max_tokens: int) -> Iterator[tuple[str, str]]:
    """Compare tab: the same question to two models, one after the other (they share the CPU)."""
    question = (question or "").strip()
    choices = parse_options(options)
    if not question:
        yield "Type a question first.", ""
        return
    problem = _too_long(question + (options or ""), limits)
    if problem:
        yield problem, problem
        return
    sampling = sampling_from(temperature, top_p, max_tokens)
    cards = ["*waiting…*", "*waiting…*"]
    for side, label in enumerate((model_a, model_b)):
        try:
            engine = engines.get(models.get(label, label))
            for reply in stream_reply(engine, question, choices, sampling):
                cards[side] = reply_card(label, reply, choices)
                yield cards[0], cards[1]
        except Exception as exc:  # noqa: BLE001
            cards[side] = _error_text(exc)
            yield cards[0], cards[1]
