"""A real OpenAI-compatible HTTP server on 127.0.0.1 for teacher tests, misbehaving on request.

It serves ``/v1/chat/completions`` and ``/v1/completions`` from a thread. Answers are
made-up rationales ending in "So the answer is (x)." (the hinted answer when the
prompt carries a rationalization hint, else a seeded random letter). ``faults`` is a
schedule cycled over incoming requests: ``ok``, ``429`` (with Retry-After), ``500``,
``stall`` (answers only after ``stall_s``, past the client's timeout) and ``reset``
(closes the connection without a response).
"""

from __future__ import annotations

import json
import random
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class TeacherServer:
    def __init__(self, faults=("ok",), honour_n: bool = True, retry_after: str = "0.05", stall_s: float = 3.0,
                 delay_s: float = 0.0, api_key: str | None = None, seed: int = 0):
        self.faults, self.honour_n, self.retry_after = list(faults), honour_n, retry_after
        self.stall_s, self.delay_s, self.api_key = stall_s, delay_s, api_key
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.counter = 0
        self.log: list[dict] = []  # one entry per request: path, n, fault, authorization header
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> "TeacherServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def count(self, fault: str) -> int:
        return sum(1 for entry in self.log if entry["fault"] == fault)

    def _next_fault(self, body: dict, path: str, auth: str | None) -> tuple[str, int]:
        with self.lock:
            index = self.counter
            self.counter += 1
            fault = self.faults[index % len(self.faults)]
            self.log.append({"path": path, "n": body.get("n", 1), "fault": fault, "authorization": auth,
                             "model": body.get("model"), "messages": len(body.get("messages") or [])})
        return fault, index

    def _completion(self, prompt_text: str, index: int, n: int, chat: bool, logprobs: bool) -> dict:
        last_question = prompt_text.rsplit("Q:", 1)[-1] if not chat else prompt_text
        letters = re.findall(r"^\(([a-z])\) ", last_question, re.MULTILINE) or ["a", "b"]
        hint = re.search(r"Hint: the correct answer is (\([a-z]\))", last_question)
        choices = []
        for k in range(n):
            with self.lock:
                answer = hint.group(1) if hint else f"({self.rng.choice(letters)})"
            text = f"Reasoning number {index}.{k} looks at each option. So the answer is {answer}."
            words = text.split()
            choice = {"index": k, "finish_reason": "stop"}
            if chat:
                choice["message"] = {"role": "assistant", "content": text}
                if logprobs:
                    choice["logprobs"] = {"content": [{"token": w, "logprob": -0.1 * (i % 7)} for i, w in enumerate(words)]}
            else:
                choice["text"] = " " + text
                if logprobs:
                    choice["logprobs"] = {"tokens": words, "token_logprobs": [-0.1 * (i % 7) for i in range(len(words))]}
            choices.append(choice)
        completion_tokens = sum(len(c.get("text", c.get("message", {}).get("content", "")).split()) for c in choices)
        return {"id": f"cmpl-{index}", "object": "chat.completion" if chat else "text_completion", "choices": choices,
                "usage": {"prompt_tokens": len(prompt_text.split()), "completion_tokens": completion_tokens}}

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                auth = self.headers.get("Authorization")
                chat = self.path == "/v1/chat/completions"
                if self.path not in ("/v1/chat/completions", "/v1/completions"):
                    return self._send(404, {"error": {"message": f"no route {self.path}"}})
                if server.api_key and auth != f"Bearer {server.api_key}":
                    return self._send(401, {"error": {"message": "invalid api key"}})
                fault, index = server._next_fault(body, self.path, auth)
                if fault == "429":
                    return self._send(429, {"error": {"message": "rate limited"}}, {"Retry-After": server.retry_after})
                if fault == "500":
                    return self._send(500, {"error": {"message": "internal error"}})
                if fault == "reset":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return None
                if fault == "stall":
                    time.sleep(server.stall_s)
                elif server.delay_s:
                    time.sleep(server.delay_s)
                n = int(body.get("n", 1)) if server.honour_n else 1
                prompt = (body["messages"][-1]["content"] if chat else body["prompt"])
                try:
                    self._send(200, server._completion(prompt, index, n, chat, bool(body.get("logprobs"))))
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up on a stalled request

        return Handler


if __name__ == "__main__":  # run by hand: python tests/teacher_server.py
    with TeacherServer(delay_s=0.05) as srv:
        print(srv.base_url, flush=True)
        threading.Event().wait()
