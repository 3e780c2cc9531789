"""Concurrent requests decode as one batch (``scotd serve --api --batch_rows N``).

On a CPU one decoding step of a 135M model reads every weight once whether it advances one sequence
or eight, so eight clients served one after another wait eight times as long as needed. The
``Batcher`` thread decodes up to ``max_rows`` rows at once (a request's ``n`` choices are n rows):

- continuously where the engine offers a ``RowBatch`` (a genai export our session loop drives): a
  request joins the running batch as soon as a row is free, after a prefill of its own, and each row
  leaves when it is done; every row samples with its own settings and seed;
- otherwise statically: the requests waiting when the batcher is free, with those arriving within
  ``gather_s``, whose sampling agrees (one genai search), decode together through ``engine.stream_rows``;
  later ones wait for the next batch.

A request that finds the server idle and alone takes the single-stream path, so one client still
gets speculative greedy decoding; a greedy one moves into the batch as soon as another request arrives.

Each request's bounds hold inside a batch: its own ``max_tokens`` and stop strings, its wall-clock
deadline (the row ends, reported as cut), and a client that leaves ends its rows at the next step.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import time
from contextlib import closing
from dataclasses import dataclass, field
from typing import Iterator, Optional

import numpy as np

from serve.engines.interface import Engine, SamplingParams, seeded_sample


# Tokens a row of the continuous batch holds (prompt and reply): the KV buffers are rows x this long, so
# it bounds their memory; a request that needs more is decoded by itself.
ROW_CAPACITY = 2048


@dataclass
class Ticket:
    """One request: its prompt, settings and deadline, and the events its rows produce, in order:
    ``("piece", index, text)``, ``("end", index, timed_out)``, then ``("done",)`` or ``("error", exc)``."""

    prompt: str
    sampling: SamplingParams
    deadline: float
    prompt_tokens: int = 0
    events: queue.Queue = field(default_factory=queue.Queue)
    cancelled: threading.Event = field(default_factory=threading.Event)
    open_rows: int = 0  # rows of the continuous batch still decoding this request's choices

    @property
    def key(self) -> tuple:
        """Requests with equal keys can share a batch (one search: one temperature, top-p, top-k, seed)."""
        s = self.sampling
        if s.greedy:
            return ("greedy",)
        return ("sampled", s.temperature, s.top_p, s.top_k, id(self) if s.seed is not None else None)

    def ended(self) -> bool:
        return self.cancelled.is_set() or time.monotonic() >= self.deadline


class Batcher:
    def __init__(self, engine: Engine, max_rows: int = 8, gather_s: float = 0.02, capacity: Optional[int] = None):
        self.engine, self.max_rows, self.gather_s = engine, max(1, max_rows), gather_s
        self.pending: list[Ticket] = []
        self.ready = threading.Condition()
        self.batches = self.rows = 0  # batches decoded and rows in them, for /metrics and tests
        self.closed = False
        self.row_batch = engine.row_batch(self.max_rows, capacity=capacity or ROW_CAPACITY)
        loop = self._continuous_loop if self.row_batch is not None else self._loop
        self.thread = threading.Thread(target=loop, name="scotd-batcher", daemon=True)
        self.thread.start()

    def close(self) -> None:
        """Stop the batcher thread once nothing waits or decodes (it holds the KV buffers)."""
        with self.ready:
            self.closed = True
            self.ready.notify_all()

    def counts(self) -> dict[str, float]:
        return {"batches": self.batches, "batch_rows": self.rows}

    def submit(self, ticket: Ticket) -> Ticket:
        self.submit_all([ticket])
        return ticket

    def submit_all(self, tickets: list[Ticket]) -> None:
        """Queue several requests at once, so an idle batcher sees them together (none goes alone)."""
        with self.ready:
            self.pending.extend(tickets)
            self.ready.notify()

    def events(self, ticket: Ticket) -> Iterator[tuple]:
        """The ticket's events as they come (blocking), through ``done``; an error is raised."""
        while True:
            event = ticket.events.get()
            if event[0] == "error":
                raise event[1]
            if event[0] == "done":
                return
            yield event

    def _take(self) -> Optional[list[Ticket]]:
        with self.ready:
            while not self.pending:
                if self.closed:
                    return None
                self.ready.wait()
            gather_until = time.monotonic() + self.gather_s
            while (left := gather_until - time.monotonic()) > 0 and self._rows(self.pending) < self.max_rows:
                self.ready.wait(left)
            first, group = self.pending[0], []
            for ticket in list(self.pending):
                fits = self._rows(group) + ticket.sampling.n <= self.max_rows and self._fits(group + [ticket])
                if ticket.key == first.key and (fits or not group):
                    group.append(ticket)
                    self.pending.remove(ticket)
            return group

    @staticmethod
    def _rows(tickets: list[Ticket]) -> int:
        return sum(t.sampling.n for t in tickets)

    def _fits(self, tickets: list[Ticket]) -> bool:
        """The batch's right-padded rows must fit the context: longest prompt plus largest budget."""
        limit = self.engine.context_length
        return limit is None or max(t.prompt_tokens for t in tickets) + max(t.sampling.max_new_tokens
                                                                            for t in tickets) <= limit

    def _loop(self) -> None:
        while (taken := self._take()) is not None:
            group = [t for t in taken if not t.cancelled.is_set()]  # a client that left while waiting
            if len(group) == 1 and group[0].sampling.n == 1:
                self._run_alone(group[0])
            elif group:
                self._run_static(group)

    def _alone(self, ticket: Ticket) -> None:
        timed_out = False
        with closing(iter(self.engine.stream_prompt(ticket.prompt, ticket.sampling))) as pieces:
            for piece in pieces:
                ticket.events.put(("piece", 0, piece))
                if ticket.ended():
                    timed_out = not ticket.cancelled.is_set()
                    break
        ticket.events.put(("end", 0, timed_out))

    def _together(self, group: list[Ticket]) -> None:
        rows = [(ticket, index) for ticket in group for index in range(ticket.sampling.n)]
        samplings = [dataclasses.replace(ticket.sampling, n=1) for ticket, _ in rows]
        self.batches, self.rows = self.batches + 1, self.rows + len(rows)
        cut: set[int] = set()

        def active(row: int) -> bool:
            ticket = rows[row][0]
            if ticket.ended():
                if not ticket.cancelled.is_set():
                    cut.add(row)
                return False
            return True

        for row, piece in self.engine.stream_rows([t.prompt for t, _ in rows], samplings, active):
            ticket, index = rows[row]
            ticket.events.put(("piece", index, piece) if piece is not None else ("end", index, row in cut))


    # ------------------------------------------------------------------ continuous batching

    def _continuous_loop(self) -> None:
        active: dict[int, Row] = {}
        while True:
            with self.ready:
                while not self.pending and not active:
                    if self.closed:
                        return
                    self.ready.wait()
                if not active:  # idle: wait a moment for company, else the speculating single stream
                    gather_until = time.monotonic() + self.gather_s
                    while (left := gather_until - time.monotonic()) > 0 and len(self.pending) < 2:
                        self.ready.wait(left)
                lone = self.pending[0] if not active and len(self.pending) == 1 else None
                if lone is not None and lone.sampling.n == 1:
                    self.pending.remove(lone)
            try:
                if lone is not None and lone.sampling.n == 1:
                    self._alone_until_company(lone, active)
                    continue
                self._admit(active)
                if active:
                    self._step(active)
            except Exception as exc:  # noqa: BLE001 - each request reports it in its own response
                for ticket in {row.ticket for row in active.values()}:
                    ticket.events.put(("error", exc))
                for row in list(active):
                    self.row_batch.leave(row)
                active.clear()

    def _run_static(self, group: list[Ticket]) -> None:
        try:
            self._together(group)
        except Exception as exc:  # noqa: BLE001 - each request reports it in its own response
            for ticket in group:
                ticket.events.put(("error", exc))
            return
        for ticket in group:
            ticket.events.put(("done",))

    def _run_alone(self, ticket: Ticket) -> None:
        if ticket.cancelled.is_set():
            return
        try:
            self._alone(ticket)
        except Exception as exc:  # noqa: BLE001
            ticket.events.put(("error", exc))
            return
        ticket.events.put(("done",))

    def _alone_until_company(self, ticket: Ticket, active: dict[int, "Row"]) -> None:
        """A lone request decodes on the speculating single stream; when another request arrives, a greedy
        one moves into a row of the batch (its prompt and reply so far prefilled) and goes on there, so the
        newcomer starts at once instead of waiting for the whole reply. A sampled one finishes alone (its
        seeded random stream stays its own)."""
        if ticket.cancelled.is_set() or not ticket.sampling.greedy:
            return self._run_alone(ticket)
        company, timed_out = False, False
        try:
            prompt_ids = self.engine.encode(ticket.prompt)
            if not self.row_batch.fits(len(prompt_ids), ticket.sampling.max_new_tokens):
                return self._run_alone(ticket)
            state = Row(ticket, 0, self.engine)
            with closing(iter(self.engine.token_ids(prompt_ids, ticket.sampling))) as tokens:
                for token in tokens:
                    piece = state.text.push(token)
                    if piece:
                        ticket.events.put(("piece", 0, piece))
                    if state.text.stopped or ticket.ended():
                        timed_out = ticket.ended() and not ticket.cancelled.is_set()
                        break
                    if len(state.text.ids) < ticket.sampling.max_new_tokens and self._newcomer_joins():
                        company = True
                        break
            if company:
                row = self.row_batch.free_rows()[0]
                logits = self.row_batch.join(row, prompt_ids + state.text.ids)
        except Exception as exc:  # noqa: BLE001 - this request reports it
            ticket.events.put(("error", exc))
            return
        if not company:
            tail = state.text.flush()
            if tail:
                ticket.events.put(("piece", 0, tail))
            ticket.events.put(("end", 0, timed_out))
            ticket.events.put(("done",))
            return
        self.batches, self.rows = self.batches + 1, self.rows + 1
        ticket.open_rows, active[row] = 1, state
        self._advance(active, row, logits)

    def _admit(self, active: dict[int, "Row"]) -> None:
        """Move waiting requests into free rows, first come first served, each after its prefill."""
        while True:
            with self.ready:
                free = self.row_batch.free_rows()
                ticket = self.pending[0] if self.pending else None
                if ticket is None:
                    return
                too_long = not self._joins(ticket)  # or more choices than rows
                if too_long and active:  # it waits, first in line, until the batch has drained
                    return
                if not too_long and len(free) < ticket.sampling.n:
                    return
                self.pending.pop(0)
            if ticket.cancelled.is_set():
                continue
            if too_long and ticket.sampling.n == 1:  # longer than a row holds: decoded by itself
                self._run_alone(ticket)
                continue
            if too_long:
                self._run_static([ticket])
                continue
            rows = free[:ticket.sampling.n]
            try:
                logits = self.row_batch.join(rows[0], self.engine.encode(ticket.prompt))
                for row in rows[1:]:
                    self.row_batch.copy(rows[0], row)
            except Exception as exc:  # noqa: BLE001 - this request reports it; the batch goes on
                for row in rows:
                    self.row_batch.leave(row)
                ticket.events.put(("error", exc))
                continue
            self.batches, self.rows = self.batches + (not active), self.rows + len(rows)
            ticket.open_rows = len(rows)
            for index, row in enumerate(rows):
                active[row] = Row(ticket, index, self.engine)
                self._advance(active, row, logits)

    def _newcomer_joins(self) -> bool:
        """Whether the first waiting request could join a batch beside a moved lone reply (else moving it
        would only cost the lone reply its speculation)."""
        first = self.pending[0] if self.pending else None  # only this thread removes from pending
        return first is not None and not first.cancelled.is_set() and first.sampling.n < self.row_batch.rows \
            and self.row_batch.fits(first.prompt_tokens, first.sampling.max_new_tokens)

    def _joins(self, ticket: Ticket) -> bool:
        """Whether the request can decode in the continuous batch: its rows exist and each holds it."""
        return ticket.sampling.n <= self.row_batch.rows and \
            self.row_batch.fits(ticket.prompt_tokens, ticket.sampling.max_new_tokens)

    def _step(self, active: dict[int, "Row"]) -> None:
        logits = self.row_batch.step({row: state.next_token for row, state in active.items()})
        for row, row_logits in logits.items():
            self._advance(active, row, row_logits)

    def _advance(self, active: dict[int, "Row"], row: int, logits: np.ndarray) -> None:
        """Pick the row's next token from ``logits``; emit its text; end the row when it is done."""
        state = active[row]
        ticket = state.ticket
        if ticket.ended():
            return self._end(active, row, timed_out=not ticket.cancelled.is_set())
        token = state.pick(logits)
        if token in self.engine.eos_ids:
            return self._end(active, row, timed_out=False)
        piece = state.text.push(token)
        if piece:
            ticket.events.put(("piece", state.index, piece))
        state.next_token = token
        if state.text.stopped or len(state.text.ids) >= ticket.sampling.max_new_tokens:
            self._end(active, row, timed_out=False)

    def _end(self, active: dict[int, "Row"], row: int, timed_out: bool) -> None:
        state = active.pop(row)
        self.row_batch.leave(row)
        tail = state.text.flush()
        if tail:
            state.ticket.events.put(("piece", state.index, tail))
        state.ticket.events.put(("end", state.index, timed_out))
        state.ticket.open_rows -= 1
        if state.ticket.open_rows == 0:
            state.ticket.events.put(("done",))


class Row:
    """One choice of a request in the continuous batch: its text so far and its own sampler."""

    def __init__(self, ticket: Ticket, index: int, engine: Engine):
        from serve.engines.onnx_engine import TokenText
        from serve.engines.sampling import pick_token

        self.ticket, self.index, self.pick_token = ticket, index, pick_token
        self.sampling = seeded_sample(ticket.sampling, index)
        self.rng = np.random.default_rng(self.sampling.seed)
        self.text = TokenText(engine.tokenizer, ticket.sampling.stop, ticket.sampling.stop_on_loop)
        self.next_token = 0

    def pick(self, logits: np.ndarray) -> int:
        return self.pick_token(logits, self.sampling, self.rng)


def collect(batcher: Batcher, ticket: Ticket) -> list[tuple[str, bool]]:
    """A submitted ticket's choices as ``(text, timed_out)``, in index order (blocking)."""
    texts: dict[int, str] = {i: "" for i in range(ticket.sampling.n)}
    cut: dict[int, bool] = {}
    for event in batcher.events(ticket):
        if event[0] == "piece":
            texts[event[1]] += event[2]
        else:
            cut[event[1]] = event[2]
    return [(texts[i], cut.get(i, False)) for i in range(ticket.sampling.n)]


def optional_batcher(engine: Optional[Engine], max_rows: int) -> Optional[Batcher]:
    return Batcher(engine, max_rows) if engine is not None and engine.batches and max_rows > 1 else None

