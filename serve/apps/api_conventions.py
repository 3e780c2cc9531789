"""What client tooling expects of a model server, around the OpenAI-compatible API (``serve.apps.api``).

- ``GET /health``: ``200 {"status": "ok"}`` once the model is loaded, 503 before (and if loading
  failed); never behind the API key, so load balancers and readiness probes can ask it.
- ``GET /metrics``: Prometheus text exposition format (version 0.0.4), written by hand: requests by
  outcome, queue depth, running requests, prompt and completion tokens, time to first token.
- An API key (``scotd serve --api --api_key KEY`` or ``$SCOTD_API_KEY``): every other route answers
  401 in OpenAI's error shape without ``Authorization: Bearer KEY``; compared in constant time.
- Requests to ``/v1/...`` that arrive while the model loads wait for it (up to the request timeout),
  as Ollama's do, then run; a load that failed answers 503 naming the failure.

All of it is one pure ASGI middleware (``Conventions``): Starlette's ``BaseHTTPMiddleware`` would sit
between a streaming response and the client's disconnect, which the API relies on to stop generating.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import os
import threading
import time
from typing import Any, Callable, Optional

from fastapi.responses import JSONResponse, PlainTextResponse

OUTCOMES = ("ok", "4xx", "429", "error")
FAILED = "scotd.failed"  # a scope key: a streamed reply that already sent its 200 and then failed in-band
TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, math.inf)
PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class ApiError(Exception):
    """An error answered in OpenAI's ``{"error": {message, type, param, code}}`` shape."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error",
                 param: Optional[str] = None, code: Optional[str] = None,
                 headers: Optional[dict[str, str]] = None):
        super().__init__(message)
        self.status, self.message, self.kind, self.param, self.code = status, message, kind, param, code
        self.headers = headers

    def response(self) -> JSONResponse:
        return JSONResponse(status_code=self.status, headers=self.headers, content={"error": {
            "message": self.message, "type": self.kind, "param": self.param, "code": self.code}})


def api_key_from(option: Optional[str], environ=os.environ) -> Optional[str]:
    """The key the API requires: ``--api_key``, else ``$SCOTD_API_KEY``; None (no key) when both are empty."""
    return option or environ.get("SCOTD_API_KEY") or None


class Serving:
    """The engine and the model id it is served as, once loaded (``scotd serve --api`` loads in the
    background so that ``/health`` can say 503 meanwhile); tests pass a loaded engine straight in."""

    def __init__(self, engine: Any = None, model_id: Optional[str] = None):
        self.engine, self.model_id, self.error = engine, model_id, None
        self.settled = threading.Event()  # loaded or failed
        if engine is not None:
            self.settled.set()

    @property
    def loaded(self) -> bool:
        return self.engine is not None

    def ready(self, engine: Any, model_id: str) -> None:
        self.engine, self.model_id = engine, model_id
        self.settled.set()

    def failed(self, message: str) -> None:
        self.error = message
        self.settled.set()

    async def wait(self, seconds: float) -> None:
        """Until loaded, failed or ``seconds`` passed, without holding a thread."""
        deadline = time.monotonic() + seconds
        while not self.settled.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    def unavailable(self, waited_s: float) -> ApiError:
        message = (f"the model failed to load: {self.error}" if self.error else
                   f"the model is still loading after {waited_s:.0f} s; retry later (GET /health says 200 when ready)")
        return ApiError(503, message, kind="server_error", code="model_not_loaded", headers={"Retry-After": "10"})


class Metrics:
    """Counters, gauges and a histogram, rendered in Prometheus text format by ``render``."""

    def __init__(self, gauges: Callable[[], dict[str, float]] = dict):
        self.lock = threading.Lock()
        self.gauges = gauges  # name -> value, read at each scrape (queue depth, running requests)
        self.requests = dict.fromkeys(OUTCOMES, 0)
        self.prompt_tokens = self.completion_tokens = 0
        self.ttft_buckets, self.ttft_sum, self.ttft_count = [0] * len(TTFT_BUCKETS), 0.0, 0

    def answered(self, status: int, failed: bool = False) -> None:
        outcome = ("error" if failed or status >= 500 else "429" if status == 429 else "4xx" if status >= 400
                   else "ok")
        with self.lock:
            self.requests[outcome] += 1

    def tokens(self, prompt: int = 0, completion: int = 0) -> None:
        with self.lock:
            self.prompt_tokens += prompt
            self.completion_tokens += completion

    def first_token(self, seconds: float) -> None:
        with self.lock:
            for i, bound in enumerate(TTFT_BUCKETS):
                self.ttft_buckets[i] += seconds <= bound  # cumulative, as the format wants
            self.ttft_sum += seconds
            self.ttft_count += 1

    def render(self) -> str:
        def family(name: str, kind: str, help: str, samples: list[tuple[str, float]]) -> list[str]:
            return [f"# HELP {name} {help}", f"# TYPE {name} {kind}"] + [f"{s} {value:g}" for s, value in samples]

        gauges = self.gauges()
        with self.lock:
            ttft = [(f'scotd_api_time_to_first_token_seconds_bucket{{le="{"+Inf" if b == math.inf else f"{b:g}"}"}}',
                     n) for b, n in zip(TTFT_BUCKETS, self.ttft_buckets)]
            lines = (
                family("scotd_api_requests_total", "counter", "API requests answered, by outcome (ok, 4xx, 429, "
                       "error: 5xx or a stream that failed after its 200)",
                       [(f'scotd_api_requests_total{{outcome="{o}"}}', n) for o, n in self.requests.items()])
                + family("scotd_api_queue_depth", "gauge", "requests waiting for a generation slot",
                         [("scotd_api_queue_depth", gauges.get("queue_depth", 0))])
                + family("scotd_api_requests_running", "gauge", "requests holding a generation slot",
                         [("scotd_api_requests_running", gauges.get("running", 0))])
                + family("scotd_api_model_loaded", "gauge", "1 once the model is loaded (GET /health is 200)",
                         [("scotd_api_model_loaded", gauges.get("loaded", 0))])
                + family("scotd_api_batches_total", "counter", "batches of requests decoded together",
                         [("scotd_api_batches_total", gauges.get("batches", 0))])
                + family("scotd_api_batch_rows_total", "counter", "rows (requests x n) in those batches",
                         [("scotd_api_batch_rows_total", gauges.get("batch_rows", 0))])
                + family("scotd_api_prompt_tokens_total", "counter", "prompt tokens of the requests generated for",
                         [("scotd_api_prompt_tokens_total", self.prompt_tokens)])
                + family("scotd_api_completion_tokens_total", "counter", "tokens generated",
                         [("scotd_api_completion_tokens_total", self.completion_tokens)])
                + family("scotd_api_time_to_first_token_seconds", "histogram", "seconds from a streamed request's "
                         "arrival (queueing included) to its first generated text",
                         ttft + [("scotd_api_time_to_first_token_seconds_sum", self.ttft_sum),
                                 ("scotd_api_time_to_first_token_seconds_count", self.ttft_count)]))
        return "\n".join(lines) + "\n"


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()  # equal lengths: compare_digest leaks not even the key's length


class Conventions:
    """The ASGI middleware: ``/health``, the key, ``/metrics``, the wait for loading, outcome counting."""

    def __init__(self, app, serving: Serving, metrics: Metrics, api_key: Optional[str], load_wait_s: float):
        self.app, self.serving, self.metrics, self.load_wait_s = app, serving, metrics, load_wait_s
        self.key = _digest(api_key) if api_key else None

    def authorized(self, scope: dict) -> bool:
        header = dict(scope.get("headers") or ()).get(b"authorization", b"").decode("latin-1")
        scheme, _, token = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(_digest(token.strip()), self.key)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        if path == "/health":
            body = {"status": "ok"} if self.serving.loaded else {"status": "error" if self.serving.error else "loading"}
            if self.serving.error:
                body["error"] = self.serving.error
            return await JSONResponse(body, status_code=200 if self.serving.loaded else 503)(scope, receive, send)
        if self.key is not None and not self.authorized(scope):
            if path != "/metrics":
                self.metrics.answered(401)
            return await ApiError(401, "missing or wrong API key: send the header 'Authorization: Bearer KEY' "
                                       "(the key of scotd serve --api_key or $SCOTD_API_KEY)", code="invalid_api_key",
                                  headers={"WWW-Authenticate": "Bearer"}).response()(scope, receive, send)
        if path == "/metrics":
            return await PlainTextResponse(self.metrics.render(), media_type=PROMETHEUS_TYPE)(scope, receive, send)
        status, counted = 500, False  # 500: what an exception before any response amounts to

        def count() -> None:
            nonlocal counted
            if not counted:
                counted = True
                self.metrics.answered(status, failed=bool(scope.get(FAILED)))

        async def counting_send(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                count()  # before the client can read the end of the reply, so a scrape after it sees it
            await send(message)

        try:
            if path.startswith("/v1/") and not self.serving.loaded:
                await self.serving.wait(self.load_wait_s)
                if not self.serving.loaded:
                    return await self.serving.unavailable(self.load_wait_s).response()(scope, receive, counting_send)
            await self.app(scope, receive, counting_send)
        finally:
            count()  # no complete reply: an exception, or a client that left
