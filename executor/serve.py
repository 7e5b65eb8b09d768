"""The executor as an HTTP reward service: one warm Executor behind a bounded, authenticated HTTP front.

Routes: `POST /v1/exec` ({"jobs": [...]} -> {"results": [...]}, in order), `POST /get_reward` (the body
OpenRLHF's `--remote_rm_url` posts -> {"rewards": [...]}), `GET /health`. Requests beyond `max_requests`
admitted at once get 429 with Retry-After; admitted requests wait for the executor at most until their
deadline (504 after it). Stdlib only (http.server); the verdicts are the local executor's.
"""

from __future__ import annotations

import hmac
import json
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from executor.job import Job, Result
from executor.jsonl import JsonlError
from executor.pool import Executor
from executor.serve_errors import RequestError
from executor.serve_reward import reward_jobs


@dataclass(frozen=True)
class ServeLimits:
    """What one request may ask of the service."""

    max_body_bytes: int = 32 << 20
    max_jobs: int = 8192  # an RL step of 4,096 rollouts fits twice
    max_requests: int = 8  # admitted at once (running or waiting for the executor); the rest get 429
    deadline_s: float = 600.0  # a request may ask for less with "deadline_s"
    retry_after_s: int = 1


class ExecService:
    """Admission, deadlines and the one warm executor; shared by every handler thread."""

    def __init__(self, executor: Executor, limits: ServeLimits, token: str | None) -> None:
        self.executor = executor
        self.limits = limits
        self.token = token
        self._admitted = threading.BoundedSemaphore(limits.max_requests)
        self._run_lock = threading.Lock()  # Executor.map serializes callers; waiting here can time out
        self._count_lock = threading.Lock()
        self.inflight = 0
        self.served = 0

    def authorized(self, header: str | None) -> bool:
        """Constant-time bearer-token check; every request passes when the service has no token."""
        if self.token is None:
            return True
        expected = f"Bearer {self.token}".encode()
        return header is not None and hmac.compare_digest(header.encode(), expected)

    def run(self, jobs: list[Job], deadline_s: float) -> list[Result]:
        """Judge `jobs` in order, or raise 429 (full) / 504 (deadline passed before all were judged)."""
        if not self._admitted.acquire(blocking=False):
            raise RequestError(
                HTTPStatus.TOO_MANY_REQUESTS,
                f"the service is running {self.limits.max_requests} requests; retry later",
                {"Retry-After": str(self.limits.retry_after_s)},
            )
        self._count(+1)
        try:
            deadline = time.monotonic() + deadline_s
            if not self._run_lock.acquire(timeout=deadline_s):
                raise _deadline(deadline_s, 0, len(jobs))
            try:
                results: list[Result] = []
                stream = self.executor.map(jobs)
                try:
                    for result in stream:
                        results.append(result)
                        if time.monotonic() > deadline and len(results) < len(jobs):
                            raise _deadline(deadline_s, len(results), len(jobs))
                finally:
                    stream.close()  # an abandoned request drops its queued jobs
                return results
            finally:
                self._run_lock.release()
        finally:
            self._count(-1)
            self._admitted.release()

    def _count(self, step: int) -> None:
        with self._count_lock:
            self.inflight += step
            self.served += step < 0


def _deadline(deadline_s: float, done: int, total: int) -> RequestError:
    return RequestError(
        HTTPStatus.GATEWAY_TIMEOUT, f"deadline of {deadline_s:g} s passed with {done} of {total} jobs judged"
    )


class ExecHandler(BaseHTTPRequestHandler):
    """One HTTP request; errors are JSON {"error": message} with a 4xx/5xx status."""

    server: ExecServer
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        """Idle keep-alive connections time out, so that shutdown (which joins every handler) is bounded."""
        self.timeout = self.server.idle_timeout_s
        super().setup()

    def do_GET(self) -> None:
        """GET /health: no auth, so that load balancers can probe it; reveals only load."""
        if self.path != "/health":
            return self._reply(HTTPStatus.NOT_FOUND, {"error": f"no route GET {self.path}"})
        service = self.server.service
        self._reply(
            HTTPStatus.OK,
            {
                "status": "ok",
                "workers": service.executor.workers,
                "inflight": service.inflight,
                "served": service.served,
                "max_requests": service.limits.max_requests,
            },
        )

    def do_POST(self) -> None:
        """POST /v1/exec or /get_reward."""
        service = self.server.service
        try:
            if self.path not in ("/v1/exec", "/get_reward"):
                raise RequestError(HTTPStatus.NOT_FOUND, f"no route POST {self.path}")
            if not service.authorized(self.headers.get("Authorization")):
                raise RequestError(
                    HTTPStatus.UNAUTHORIZED,
                    "missing or wrong bearer token (header 'Authorization: Bearer <token>')",
                    {"WWW-Authenticate": "Bearer"},
                )
            body = self._read_json(service.limits.max_body_bytes)
            deadline_s = _deadline_field(body, service.limits.deadline_s)
            if self.path == "/v1/exec":
                jobs = _exec_jobs(body, service.limits.max_jobs)
                results = service.run(jobs, deadline_s)
                self._reply(HTTPStatus.OK, {"results": [r.to_dict() for r in results]})
            else:
                jobs = reward_jobs(body, service.limits.max_jobs)
                results = service.run(jobs, deadline_s)
                self._reply(HTTPStatus.OK, {"rewards": [r.pass_rate for r in results]})
        except RequestError as err:
            self._reply(err.status, {"error": str(err)}, err.headers)
        except JsonlError as err:
            self._reply(HTTPStatus.BAD_REQUEST, {"error": str(err)})

    def _read_json(self, limit: int) -> dict[str, Any]:
        length_text = self.headers.get("Content-Length")
        if length_text is None:
            raise RequestError(HTTPStatus.LENGTH_REQUIRED, "a Content-Length header is required")
        try:
            length = int(length_text)
        except ValueError:
            message = f"Content-Length {length_text!r} is not a number"
            raise RequestError(HTTPStatus.BAD_REQUEST, message) from None
        if length > limit:
            self.close_connection = True  # the unread body must not be taken for the next request
            raise RequestError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body of {length} bytes is over the {limit}-byte limit"
            )
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise RequestError(HTTPStatus.BAD_REQUEST, f"body is not JSON: {err}") from None
        if not isinstance(body, dict):
            raise RequestError(HTTPStatus.BAD_REQUEST, "body must be a JSON object")
        return body

    def _reply(
        self, status: HTTPStatus, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.server.stopping.is_set():
            self.close_connection = True  # shutting down: no further request on this connection
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet by default: RL stacks post thousands of requests."""
        if self.server.verbose:
            super().log_message(format, *args)


def _deadline_field(body: dict[str, Any], limit: float) -> float:
    value = body.get("deadline_s", limit)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise RequestError(HTTPStatus.BAD_REQUEST, "field 'deadline_s' must be a positive number of seconds")
    return min(float(value), limit)


def _exec_jobs(body: dict[str, Any], max_jobs: int) -> list[Job]:
    rows = body.get("jobs")
    if not isinstance(rows, list):
        raise RequestError(HTTPStatus.BAD_REQUEST, "field 'jobs' is required: a list of {id, program, tests}")
    if len(rows) > max_jobs:
        raise RequestError(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"{len(rows)} jobs is over the limit of {max_jobs}"
        )
    jobs = []
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise RequestError(HTTPStatus.BAD_REQUEST, f"field 'jobs[{index}]' must be an object")
        jobs.append(Job.from_row(row, f"jobs[{index}]"))
    return jobs


class ExecServer(ThreadingHTTPServer):
    """A threading HTTP server whose close waits for in-flight requests (daemon_threads off)."""

    daemon_threads = False
    block_on_close = True

    def __init__(
        self,
        address: tuple[str, int],
        service: ExecService,
        verbose: bool = False,
        idle_timeout_s: float = 30.0,
    ) -> None:
        self.service = service
        self.verbose = verbose
        self.idle_timeout_s = idle_timeout_s
        self.stopping = threading.Event()
        super().__init__(address, ExecHandler)

    def stop(self) -> None:
        """Stop accepting, let in-flight requests finish (idle connections close within idle_timeout_s)."""
        self.stopping.set()
        self.shutdown()
        self.server_close()

    @property
    def url(self) -> str:
        """http://host:port of the bound socket."""
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"
