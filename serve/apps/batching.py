"""Requests that arrive together decode as one batch (``scotd serve --api --batch_rows N``).

On a CPU one decoding step of a 135M model reads every weight once whether it advances one sequence
or eight, so eight clients served one after another wait eight times as long as needed. The
``Batcher`` thread takes the requests waiting when it is free, together with those that arrive within
``gather_s``, groups the ones whose sampling settings agree (every greedy request; sampled ones with
the same temperature, top-p and top-k and no seed of their own) up to ``max_rows`` rows (a request's
``n`` choices are n rows) and decodes the group with ``engine.stream_rows``. A request alone takes
the single-stream path, so one client still gets speculative greedy decoding. Requests that arrive
while a batch runs wait for the next one (static batching: the genai Generator takes no new rows).

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

from serve.engines.interface import Engine, SamplingParams


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
    def __init__(self, engine: Engine, max_rows: int = 8, gather_s: float = 0.02):
        self.engine, self.max_rows, self.gather_s = engine, max(1, max_rows), gather_s
        self.pending: list[Ticket] = []
        self.ready = threading.Condition()
        self.batches = self.rows = 0  # batches decoded and rows in them, for /metrics and tests
        threading.Thread(target=self._loop, name="scotd-batcher", daemon=True).start()

    def counts(self) -> dict[str, float]:
        return {"batches": self.batches, "batch_rows": self.rows}

    def submit(self, ticket: Ticket) -> Ticket:
        with self.ready:
            self.pending.append(ticket)
            self.ready.notify()
        return ticket

    def events(self, ticket: Ticket) -> Iterator[tuple]:
        """The ticket's events as they come (blocking), through ``done``; an error is raised."""
        while True:
            event = ticket.events.get()
            if event[0] == "error":
                raise event[1]
            if event[0] == "done":
                return
            yield event

    def _take(self) -> list[Ticket]:
        with self.ready:
            while not self.pending:
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
        while True:
            group = [t for t in self._take() if not t.cancelled.is_set()]  # a client that left while waiting
            if not group:
                continue
            try:
                if len(group) == 1 and group[0].sampling.n == 1:
                    self._alone(group[0])
                else:
                    self._together(group)
            except Exception as exc:  # noqa: BLE001 - each request reports it in its own response
                for ticket in group:
                    ticket.events.put(("error", exc))
                continue
            for ticket in group:
                ticket.events.put(("done",))

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
