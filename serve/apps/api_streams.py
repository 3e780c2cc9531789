"""The server-sent events of a streaming chat completion: one source per way of decoding.

``sequential_chunks`` decodes a request's ``n`` choices one after another through the engine's single
stream; ``batched_chunks`` hands the request to the ``Batcher``, whose batch may hold other requests
too, and relays its choices' pieces as they come (interleaved by ``index``, as OpenAI streams n > 1).
Both yield the same ``chat.completion.chunk`` events and add the tokens they generated to ``tally``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import queue
import time
from contextlib import closing
from typing import AsyncIterator, Callable, Iterator, Optional

from starlette.concurrency import run_in_threadpool

from serve.apps.batching import Batcher, Ticket
from serve.core.student_format import ReasoningStream
from serve.engines.interface import Engine, SamplingParams, seeded_sample


def chunk(base: dict, index: int, delta: dict, finish: Optional[str] = None) -> str:
    body = dict(base, object="chat.completion.chunk",
                choices=[{"index": index, "delta": delta, "finish_reason": finish, "logprobs": None}])
    return f"data: {json.dumps(body)}\n\n"


def finish_reason(timed_out: bool, tokens: int, sampling: SamplingParams) -> str:
    return "length" if timed_out or tokens >= sampling.max_new_tokens else "stop"


class Tally:
    """What a stream generated (for usage and /metrics) and when its first piece came."""

    def __init__(self, arrived: float, first_token: Callable[[float], None]):
        self.tokens, self.arrived, self.first_token = 0, arrived, first_token

    def piece(self, text: str) -> None:
        if self.arrived is not None and text:
            self.first_token(time.monotonic() - self.arrived)
            self.arrived = None


def _fields(text: str, stream: Optional[ReasoningStream]) -> list[tuple[str, str]]:
    return stream.push(text) if stream else [("content", text)]


def delta(field: str, text: str) -> dict:
    # reasoning_content: llama.cpp and DeepSeek's name; reasoning: vLLM's current one
    return {"content": text} if field == "content" else {"reasoning_content": text, "reasoning": text}


class Choice:
    """One reply being generated: its text so far, cut at the request's wall-clock deadline."""

    def __init__(self, engine: Engine, prompt: str, sampling: SamplingParams, deadline: float):
        self.engine, self.prompt, self.sampling, self.deadline = engine, prompt, sampling, deadline
        self.text, self.timed_out = "", False

    def __iter__(self) -> Iterator[str]:
        with closing(iter(self.engine.stream_prompt(self.prompt, self.sampling))) as pieces:
            for piece in pieces:
                self.text += piece
                yield piece
                if time.monotonic() >= self.deadline:
                    self.timed_out = True
                    return

    @functools.cached_property
    def tokens(self) -> int:
        """Tokens generated; read once the reply is done (usage and the finish reason share it)."""
        return self.engine.count_tokens(self.text)


async def sequential_chunks(engine: Engine, prompt: str, sampling: SamplingParams, base: dict, deadline: float,
                            split: bool, tally: Tally) -> AsyncIterator[str]:
    reply = None
    try:
        for index in range(sampling.n):
            reply = Choice(engine, prompt, seeded_sample(sampling, index), deadline)
            yield chunk(base, index, {"role": "assistant", "content": ""})
            fields = ReasoningStream() if split else None
            with closing(iter(reply)) as pieces:
                while (piece := await run_in_threadpool(next, pieces, None)) is not None:
                    tally.piece(piece)
                    for field, text in _fields(piece, fields):
                        yield chunk(base, index, delta(field, text))
            for field, text in (fields.flush() if fields else []):
                yield chunk(base, index, delta(field, text))
            finished, reply = reply, None
            tally.tokens += finished.tokens
            yield chunk(base, index, {}, finish_reason(finished.timed_out, finished.tokens, sampling))
    finally:
        if reply is not None:  # the client left mid-reply: what was generated still counts
            tally.tokens += reply.tokens


async def batched_chunks(batcher: Batcher, ticket: Ticket, base: dict, split: bool, tally: Tally,
                         count_tokens: Callable[[str], int]) -> AsyncIterator[str]:
    n = ticket.sampling.n
    texts, open_rows = [""] * n, set(range(n))
    fields = [ReasoningStream() if split else None for _ in range(n)]
    batcher.submit(ticket)
    try:
        for index in range(n):
            yield chunk(base, index, {"role": "assistant", "content": ""})
        while True:
            try:
                event = ticket.events.get_nowait()
            except queue.Empty:  # polled, so a client that leaves is noticed here, holding no thread
                await asyncio.sleep(0.005)
                continue
            if event[0] == "done":
                return
            if event[0] == "error":
                raise event[1]
            index = event[1]
            if event[0] == "piece":
                tally.piece(event[2])
                texts[index] += event[2]
                for field, text in _fields(event[2], fields[index]):
                    yield chunk(base, index, delta(field, text))
                continue
            for field, text in (fields[index].flush() if fields[index] else []):
                yield chunk(base, index, delta(field, text))
            open_rows.discard(index)
            used = count_tokens(texts[index])
            tally.tokens += used
            yield chunk(base, index, {}, finish_reason(event[2], used, ticket.sampling))
    finally:
        ticket.cancelled.set()  # rows still decoding end at the batch's next step
        tally.tokens += sum(count_tokens(texts[i]) for i in open_rows)
