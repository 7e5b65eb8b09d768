"""A local OpenAI-compatible chat-completions server for the demo's `acecoder synth-tests` (127.0.0.1 only).

It answers `POST /v1/chat/completions` with the reply recorded for the seed program quoted in the synthesis
prompt (the program inside its ```python fence), in the OpenAI response shape, with token usage counted in
characters / 4. An unknown program is a 400 naming its first line, as a real endpoint refuses bad requests.
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

_PROGRAM = re.compile(r"```python\n(.*?)\n```", re.DOTALL)


class RecordedReplyServer:
    """`with RecordedReplyServer(replies) as server:` serves at `server.base_url` until the block ends."""

    def __init__(self, replies: dict[str, str], model: str = "gpt-4o-mini (recorded for the world)") -> None:
        self.replies = replies
        self.model = model
        self.served = 0
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="demo-openai", daemon=True)

    @property
    def base_url(self) -> str:
        """The endpoint to pass as the openai backend's base_url."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> RecordedReplyServer:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def completion(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON body) for one chat-completions request."""
        messages = request.get("messages") or []
        user = next((m.get("content", "") for m in reversed(messages) if m.get("role") == "user"), "")
        found = _PROGRAM.search(user)
        reply = self.replies.get(found.group(1)) if found else None
        if reply is None:
            first = found.group(1).splitlines()[0] if found else user[:80]
            error = {"message": f"no recorded reply for the program starting {first!r}", "type": "invalid"}
            return 400, {"error": error}
        with self._lock:
            self.served += 1
        n = int(request.get("n") or 1)
        prompt_tokens = sum(len(str(m.get("content", ""))) for m in messages) // 4
        body = {
            "id": f"chatcmpl-demo-{self.served}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model", self.model),
            "choices": [
                {"index": i, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}
                for i in range(n)
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": n * len(reply) // 4,
                "total_tokens": prompt_tokens + n * len(reply) // 4,
            },
        }
        return 200, body

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
                    return
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    request = json.loads(self.rfile.read(length) or b"{}")
                except json.JSONDecodeError as err:
                    self._send(400, {"error": {"message": f"bad JSON: {err}", "type": "invalid"}})
                    return
                self._send(*server.completion(request))

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # one line per request would drown the demo's output

        return Handler
