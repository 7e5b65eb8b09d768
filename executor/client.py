"""A client of `acecoder serve-exec` (stdlib urllib), and reward functions for verl and OpenRLHF."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from typing import Any

from executor.job import Job


class ExecServiceError(Exception):
    """The service refused a request; `status` is the HTTP status, the message the service's."""

    def __init__(self, status: int, message: str, retry_after_s: float = 1.0) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.retry_after_s = retry_after_s


class ExecClient:
    """`ExecClient(url, token).exec(jobs)` -> result dicts in order; 429s are retried after Retry-After."""

    def __init__(
        self, url: str, token: str | None = None, timeout_s: float = 600.0, retries: int = 30
    ) -> None:
        self.url = url.rstrip("/")
        self.token = token if token is not None else os.environ.get("ACECODER_EXEC_TOKEN") or None
        self.timeout_s = timeout_s
        self.retries = retries

    def exec(self, jobs: list[Job | dict[str, Any]], deadline_s: float | None = None) -> list[dict[str, Any]]:
        """POST /v1/exec: each job's result row ({id, status, pass_rate, tests}), in input order."""
        rows = [job if isinstance(job, dict) else _row(job) for job in jobs]
        body: dict[str, Any] = {"jobs": rows}
        if deadline_s is not None:
            body["deadline_s"] = deadline_s
        return self.post("/v1/exec", body)["results"]

    def rewards(self, responses: list[str], tests: list[list[str]]) -> list[float]:
        """POST /get_reward with empty prompts: the pass rate of each response's program on its asserts."""
        return self.post("/get_reward", {"query": responses, "labels": tests})["rewards"]

    def health(self) -> dict[str, Any]:
        """GET /health."""
        return self._send(urllib.request.Request(self.url + "/health"))

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST a JSON body, retrying 429s; raises ExecServiceError on any other non-2xx answer."""
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        for attempt in range(self.retries + 1):
            request = urllib.request.Request(self.url + path, data=data, headers=headers, method="POST")
            try:
                return self._send(request)
            except ExecServiceError as err:
                if err.status != 429 or attempt == self.retries:
                    raise
                time.sleep(err.retry_after_s)
        raise AssertionError("unreachable")

    def _send(self, request: urllib.request.Request) -> dict[str, Any]:
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as reply:
                return json.loads(reply.read())
        except urllib.error.HTTPError as err:
            try:
                message = json.loads(err.read()).get("error", err.reason)
            except (json.JSONDecodeError, AttributeError):
                message = str(err.reason)
            retry_after_s = float(err.headers.get("Retry-After") or 1.0)
            raise ExecServiceError(err.code, message, retry_after_s) from None


def _row(job: Job) -> dict[str, Any]:
    return {"id": job.id, "program": job.program, "tests": job.tests}


def verl_compute_score(
    data_source: str, solution_str: str, ground_truth: Any, extra_info: dict | None = None
) -> float:
    """verl `custom_reward_function` (signature of verl's default_compute_score): the pass rate of the
    completion's program on `ground_truth` (asserts, or their JSON string) as judged by the service at
    $ACECODER_EXEC_URL (token from $ACECODER_EXEC_TOKEN)."""
    tests = json.loads(ground_truth) if isinstance(ground_truth, str) else list(ground_truth)
    client = ExecClient(os.environ.get("ACECODER_EXEC_URL", "http://127.0.0.1:8000"))
    return client.rewards([solution_str], [tests])[0]
