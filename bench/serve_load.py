"""A load test of the OpenAI-compatible API: many concurrent clients, some of them hostile.

Every request must end in one of three ways: a complete answer (a stream that reaches
``[DONE]``, or a JSON reply), a 4xx that names the problem, or a 429 asking to come back
later. Anything else (a 5xx, a dropped connection, a request still open at the deadline) is
counted as lost or hung, and the test reports it. Clients run in one asyncio loop with httpx,
against a server on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Optional


def _question(index: int) -> str:
    return f"Alice has {index % 7 + 2} apples and buys {index % 5 + 1} more. How many apples does she have?"


# name -> (request body changes, the outcome it must get). Hostile kinds must be refused with a 400.
KINDS: dict[str, tuple[dict[str, Any], str]] = {
    "stream": ({"stream": True, "stream_options": {"include_usage": True}}, "complete"),
    "plain": ({}, "complete"),
    "n3": ({"n": 3, "temperature": 0.7}, "complete"),
    "huge_max_tokens": ({"max_tokens": 1_000_000_000}, "400"),
    "unknown_role": ({"messages": [{"role": "wizard", "content": "hi"}]}, "400"),
    "negative_temperature": ({"temperature": -1}, "400"),
    "oversize": ({"messages": [{"role": "user", "content": "x" * 100_000}]}, "400"),
}
MIX = ["stream", "stream", "stream", "plain", "n3", "huge_max_tokens", "unknown_role", "negative_temperature",
       "oversize"]
# mixed: every client meets hostile requests too (about half are refused at once, so fewer rows decode);
# normal: only requests that decode, the throughput of N clients that all want answers.
MIXES: dict[str, list[str]] = {"mixed": MIX, "normal": ["stream", "stream", "stream", "plain", "n3"]}


@dataclass
class Outcome:
    kind: str
    status: str  # complete, 400, 429, error, hung
    ttft_s: Optional[float] = None
    seconds: float = 0.0
    completion_tokens: int = 0
    detail: str = ""


@dataclass
class LoadResult:
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for outcome in self.outcomes:
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
        return counts

    def unexpected(self) -> list[Outcome]:
        """Requests that ended any other way than their kind must (429 is always allowed)."""
        return [o for o in self.outcomes if o.status != "429" and o.status != KINDS[o.kind][1]]

    def summary(self) -> dict[str, Any]:
        ttft = sorted(o.ttft_s for o in self.outcomes if o.ttft_s is not None)
        tokens = sum(o.completion_tokens for o in self.outcomes)

        def quantile(q: float) -> Optional[float]:
            return ttft[min(len(ttft) - 1, int(round(q * (len(ttft) - 1))))] if ttft else None
        return {"requests": len(self.outcomes), "outcomes": self.counts(), "unexpected": len(self.unexpected()),
                "ttft_p50_s": quantile(0.5), "ttft_p99_s": quantile(0.99),
                "ttft_mean_s": statistics.mean(ttft) if ttft else None, "completion_tokens": tokens,
                "tokens_per_s": tokens / self.seconds if self.seconds > 0 else None, "seconds": self.seconds}


async def _one(client, url: str, model: str, kind: str, index: int, max_tokens: int, deadline_s: float) -> Outcome:
    changes, _ = KINDS[kind]
    body = {"model": model, "messages": [{"role": "user", "content": _question(index)}], "temperature": 0,
            "max_tokens": max_tokens, **changes}
    started = time.perf_counter()
    outcome = Outcome(kind, "error")
    try:
        async with asyncio.timeout(deadline_s):
            if body.get("stream"):
                async with client.stream("POST", url, json=body) as response:
                    if response.status_code != 200:
                        await response.aread()
                        outcome.status, outcome.detail = _refused(response)
                    else:
                        async for line in response.aiter_lines():
                            if not line.startswith("data: "):
                                continue
                            if line == "data: [DONE]":
                                outcome.status = "complete"
                                break
                            event = json.loads(line[6:])
                            if "error" in event:
                                outcome.detail = event["error"].get("message", "")
                                break
                            if outcome.ttft_s is None and any((c.get("delta") or {}).get("content")
                                                              for c in event.get("choices", [])):
                                outcome.ttft_s = time.perf_counter() - started
                            if event.get("usage"):
                                outcome.completion_tokens = int(event["usage"]["completion_tokens"])
            else:
                response = await client.post(url, json=body)
                if response.status_code == 200:
                    reply = response.json()
                    outcome.status = "complete" if reply.get("choices") else "error"
                    outcome.completion_tokens = int(reply.get("usage", {}).get("completion_tokens", 0))
                else:
                    outcome.status, outcome.detail = _refused(response)
    except TimeoutError:
        outcome.status = "hung"
    except Exception as exc:  # noqa: BLE001 - a lost request is a result, not a crash of the test
        outcome.status, outcome.detail = "error", f"{type(exc).__name__}: {exc}"
    outcome.seconds = time.perf_counter() - started
    return outcome


def _refused(response) -> tuple[str, str]:
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = response.text[:200]
    if response.status_code == 429:
        return "429", message
    return (str(response.status_code) if 400 <= response.status_code < 500 else "error"), message


async def _run(base_url: str, model: str, clients: int, requests: int, max_tokens: int, deadline_s: float,
               mix: list[str]) -> LoadResult:
    import httpx

    url = f"{base_url.rstrip('/')}/chat/completions"
    kinds = itertools.cycle(mix)
    plan = [(next(kinds), i) for i in range(requests)]
    queue: asyncio.Queue = asyncio.Queue()
    for item in plan:
        queue.put_nowait(item)
    result = LoadResult()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def client_loop(client) -> None:
        while not queue.empty():
            kind, index = queue.get_nowait()
            result.outcomes.append(await _one(client, url, model, kind, index, max_tokens, deadline_s))

    started = time.perf_counter()
    async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(deadline_s + 5)) as client:
        await asyncio.gather(*(client_loop(client) for _ in range(clients)))
    result.seconds = time.perf_counter() - started
    return result


def run_load(base_url: str, model: str, clients: int = 32, requests: int = 96, max_tokens: int = 48,
             deadline_s: float = 300.0, mix: str = "mixed") -> LoadResult:
    """``requests`` requests from ``clients`` concurrent clients to ``base_url`` (…/v1), in turn from ``MIXES[mix]``."""
    return asyncio.run(_run(base_url, model, clients, requests, max_tokens, deadline_s, MIXES[mix]))
