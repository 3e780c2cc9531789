"""An OpenAI-compatible HTTP API over one engine: ``/v1/chat/completions`` and ``/v1/models``.

Streaming (server-sent events) and non-streaming, ``n`` samples, ``stop``, ``seed``,
``max_tokens``/``max_completion_tokens``; errors use OpenAI's ``{"error": {...}}`` shape
so OpenAI clients raise their usual exceptions. Generation is serialised by a
semaphore (``concurrency``): on a CPU, parallel requests only share the same cores.
Started by ``scotd serve --api``; the distill ``openai`` teacher backend can point at it.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
import uuid
from typing import Any, Iterator, Optional, Union

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from serve.engines.interface import Engine, SamplingParams


class ApiError(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error",
                 param: Optional[str] = None, code: Optional[str] = None):
        super().__init__(message)
        self.status, self.message, self.kind, self.param, self.code = status, message, kind, param, code

    def response(self) -> JSONResponse:
        return JSONResponse(status_code=self.status, content={"error": {
            "message": self.message, "type": self.kind, "param": self.param, "code": self.code}})


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: Union[str, list[dict[str, Any]], None] = None

    def text(self) -> str:
        if isinstance(self.content, list):  # content parts: keep the text ones
            return "".join(part.get("text", "") for part in self.content if part.get("type") == "text")
        return self.content or ""


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # logprobs, user, ... are accepted and ignored
    model: str
    messages: list[Message] = Field(min_length=1)
    temperature: float = Field(1.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    n: int = Field(1, ge=1, le=16)
    max_tokens: Optional[int] = Field(None, ge=1)
    max_completion_tokens: Optional[int] = Field(None, ge=1)
    stop: Union[str, list[str], None] = None
    seed: Optional[int] = None
    stream: bool = False
    stream_options: Optional[dict[str, Any]] = None


def _chunk(base: dict, index: int, delta: dict, finish: Optional[str] = None) -> str:
    body = dict(base, object="chat.completion.chunk",
                choices=[{"index": index, "delta": delta, "finish_reason": finish, "logprobs": None}])
    return f"data: {json.dumps(body)}\n\n"


def create_api(engine: Engine, model_id: str, max_input_chars: int = 8000, concurrency: int = 1,
               default_max_tokens: int = 256) -> FastAPI:
    app = FastAPI(title="scotd OpenAI-compatible API")
    slots = threading.Semaphore(max(1, concurrency))
    created = int(time.time())
    model_card = {"id": model_id, "object": "model", "created": created, "owned_by": "scotd"}

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return ApiError(400, f"invalid request: {where}: {first.get('msg', 'bad value')}", param=where or None).response()

    @app.get("/v1/models")
    def list_models() -> dict:
        return {"object": "list", "data": [model_card]}

    @app.get("/v1/models/{name:path}")
    def get_model(name: str) -> dict:
        if name != model_id:
            raise ApiError(404, f"model '{name}' is not served here; this server serves '{model_id}'",
                           code="model_not_found")
        return model_card

    def prepare(request: ChatRequest) -> tuple[str, SamplingParams]:
        if request.model != model_id:
            raise ApiError(404, f"model '{request.model}' is not served here; use model='{model_id}' "
                                "(see GET /v1/models)", param="model", code="model_not_found")
        messages = [{"role": m.role, "content": m.text()} for m in request.messages]
        prompt = engine.apply_chat_template(messages)
        size = sum(len(m["content"]) for m in messages)
        if size > max_input_chars:
            raise ApiError(400, f"messages hold {size} characters; this server accepts at most {max_input_chars} "
                                "(scotd serve --api --max_input_chars N)", param="messages",
                           code="context_length_exceeded")
        stop = [request.stop] if isinstance(request.stop, str) else list(request.stop or [])
        sampling = SamplingParams(n=request.n, max_new_tokens=request.max_completion_tokens or request.max_tokens or default_max_tokens,
                                  temperature=request.temperature, top_p=request.top_p, stop=stop, seed=request.seed)
        return prompt, sampling

    def finish_reason(text: str, sampling: SamplingParams) -> str:
        return "length" if engine.count_tokens(text) >= sampling.max_new_tokens else "stop"

    @app.post("/v1/chat/completions")
    def chat_completions(request: ChatRequest):
        prompt, sampling = prepare(request)
        base = {"id": f"chatcmpl-{uuid.uuid4().hex}", "created": int(time.time()), "model": model_id}
        prompt_tokens = engine.count_tokens(prompt)
        if request.stream:
            return StreamingResponse(stream_events(request, prompt, sampling, base, prompt_tokens),
                                     media_type="text/event-stream")
        with slots:
            try:
                texts = engine.generate([prompt], sampling)[0]
            except Exception as exc:  # noqa: BLE001 - reported to the client in OpenAI's shape
                raise ApiError(500, f"generation failed: {exc}", kind="server_error") from exc
        choices = [{"index": i, "message": {"role": "assistant", "content": text},
                    "finish_reason": finish_reason(text, sampling), "logprobs": None} for i, text in enumerate(texts)]
        completion_tokens = sum(engine.count_tokens(t) for t in texts)
        return dict(base, object="chat.completion", choices=choices,
                    usage={"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                           "total_tokens": prompt_tokens + completion_tokens})

    def stream_events(request: ChatRequest, prompt: str, sampling: SamplingParams, base: dict,
                      prompt_tokens: int) -> Iterator[str]:
        completion_tokens = 0
        with slots:
            try:
                for index in range(request.n):
                    # Distinct seeds per choice, or n seeded samples would all be the same text.
                    seeded = sampling if sampling.seed is None else dataclasses.replace(
                        sampling, seed=sampling.seed + index)
                    yield _chunk(base, index, {"role": "assistant", "content": ""})
                    text = ""
                    for piece in engine.stream_prompt(prompt, seeded):
                        text += piece
                        yield _chunk(base, index, {"content": piece})
                    completion_tokens += engine.count_tokens(text)
                    yield _chunk(base, index, {}, finish_reason(text, sampling))
            except Exception as exc:  # noqa: BLE001 - headers are sent: report in-band, then end
                yield f"data: {json.dumps({'error': {'message': f'generation failed: {exc}', 'type': 'server_error'}})}\n\n"
        if (request.stream_options or {}).get("include_usage"):
            usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                     "total_tokens": prompt_tokens + completion_tokens}
            yield f"data: {json.dumps(dict(base, object='chat.completion.chunk', choices=[], usage=usage))}\n\n"
        yield "data: [DONE]\n\n"

    return app


def serve_api(cfg) -> None:
    """Load ``cfg.model`` and serve it with uvicorn on ``cfg.host:cfg.port`` (a ServeConfig)."""
    import uvicorn

    from serve.apps.model_pick import model_label, resolve_serving_model
    from serve.engines.interface import load_engine

    model_dir = resolve_serving_model(cfg.model)
    engine = load_engine(model_dir, backend=cfg.backend)
    label = model_label(model_dir)
    model_id = cfg.served_name or (label.replace(" · ", "/") if label != str(model_dir) else model_dir.name)
    app = create_api(engine, model_id, max_input_chars=cfg.max_input_chars, concurrency=cfg.concurrency,
                     default_max_tokens=cfg.sampling.max_new_tokens)
    print(f"[scotd] serving '{model_id}' ({engine.backend}) at http://{cfg.host}:{cfg.port}/v1", flush=True)
    uvicorn.run(app, host=cfg.host, port=cfg.port, log_level="warning")
