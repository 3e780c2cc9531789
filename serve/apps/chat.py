"""``scotd chat``: ask a model questions in the terminal and watch it reason, token by token.

Type a question; add answer options after ``|`` (``Which is heavier? | a brick | a feather``).
Each question is answered on its own, in the student format. ``/quit`` or Ctrl-D ends.
Questions piped on stdin are answered one per line, so the chat also works in scripts.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Literal, Optional, TextIO

from serve.apps.reply import Reply, display_answer, parse_options, stream_reply
from serve.core.config import option, parse_args
from serve.engines.interface import Engine, SamplingParams

HELP = "Type a question (options after '|', e.g. 'Which is heavier? | a brick | a feather'); /quit to leave."


@dataclass
class ChatConfig:
    model: Optional[str] = option(None, "registry name or folder; default: the distilled reasoner once built "
                                        "(recipes/reasoner-one-phase-fifth.yaml), else smollm2-135m-instruct "
                                        "(int8 ONNX or PyTorch)", positional=True)
    backend: Literal["auto", "torch", "onnx"] = option("auto", "engine backend: auto (from the folder), torch or onnx")
    sampling: SamplingParams = option(default_factory=SamplingParams, help="decoding of each reply (greedy by default)")
    max_input_chars: int = option(2000, "longest question accepted")


def split_question(line: str) -> tuple[str, Optional[list[str]]]:
    question, *options = line.split("|")
    return question.strip(), parse_options(options) if options else None


def answer_one(engine: Engine, line: str, sampling: SamplingParams, out: TextIO) -> Optional[Reply]:
    question, choices = split_question(line)
    out.write("thinking: ")
    reply, shown = None, 0
    for reply in stream_reply(engine, question, choices, sampling):
        if not reply.done:
            out.write(reply.text[shown:])
            shown = len(reply.text)
            out.flush()
    if reply is not None:
        out.write(f"\nanswer: {display_answer(reply.answer, choices, reply.answer_phrase)}\n"
                  f"[{reply.stats_line()}]\n\n")
        out.flush()
    return reply


def read_lines(interactive: bool):
    while True:
        try:
            line = input("you> ") if interactive else sys.stdin.readline()
        except EOFError:
            return
        if not interactive and line == "":
            return
        yield line.strip()


def main(argv: list[str]) -> int:
    cfg = parse_args(ChatConfig, argv, prog="scotd chat", description="Chat with a model in the terminal.")
    from serve.apps.model_pick import model_label, resolve_serving_model
    from serve.engines.interface import load_engine

    model_dir = resolve_serving_model(cfg.model)
    engine = load_engine(model_dir, backend=cfg.backend)
    sampling = cfg.sampling
    interactive = sys.stdin.isatty()
    if interactive:
        print(f"scotd chat · {model_label(model_dir)} ({engine.backend}). {HELP}")
    for line in read_lines(interactive):
        if not line:
            continue
        if line in ("/quit", "/exit"):
            break
        if line == "/help":
            print(HELP)
            continue
        if len(line) > cfg.max_input_chars:
            print(f"input too long: {len(line)} characters; the limit is {cfg.max_input_chars} "
                  "(--max_input_chars N to change it)")
            continue
        try:
            answer_one(engine, line, sampling, sys.stdout)
        except KeyboardInterrupt:
            print("\n(interrupted; ask another question or /quit)")
    return 0
