"""The reward service over real HTTP on loopback: routes, refusals, back-pressure, hostile programs."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator

import pytest

from executor import Executor, Job
from executor.client import ExecClient, ExecServiceError
from executor.serve import ExecServer, ExecService, ServeLimits

TOKEN = "test-token-not-a-secret"
PROGRAM = "def add(a, b):\n    return a + b\n"
SPIN = "def spin():\n    while True:\n        pass\n"


@pytest.fixture(scope="module")
def executor() -> Iterator[Executor]:
    with Executor(workers=2, timeout_s=1.0, memory_mb=512) as ex:
        yield ex


@pytest.fixture(scope="module")
def server(executor: Executor) -> Iterator[ExecServer]:
    limits = ServeLimits(max_body_bytes=1 << 16, max_jobs=50, max_requests=1, deadline_s=30.0)
    server = ExecServer(("127.0.0.1", 0), ExecService(executor, limits, TOKEN))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def client(server: ExecServer) -> ExecClient:
    return ExecClient(server.url, TOKEN, retries=0)


def raw_post(server: ExecServer, path: str, body: bytes, token: str | None = TOKEN) -> tuple[int, dict]:
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=30)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    connection.request("POST", path, body=body, headers=headers)
    reply = connection.getresponse()
    payload = json.loads(reply.read())
    connection.close()
    return reply.status, payload


def test_exec_returns_results_in_order_equal_to_local(client, executor):
    jobs = [
        Job("a", PROGRAM, ["assert add(1, 2) == 3", "assert add(1, 1) == 3"]),
        Job(7, "def add(a, b):\n    return a - b\n", ["assert add(1, 2) == 3"]),
        Job("syntax", "def add(:\n", ["assert add(1, 2) == 3"]),
    ]
    remote = client.exec(jobs)
    local = [r.to_dict() for r in executor.run(jobs)]
    assert [r["id"] for r in remote] == ["a", 7, "syntax"]
    assert [(r["status"], r["pass_rate"]) for r in remote] == [(r["status"], r["pass_rate"]) for r in local]
    assert [[t["outcome"] for t in r["tests"]] for r in remote] == [["pass", "fail"], ["fail"], ["skipped"]]


def test_get_reward_takes_openrlhf_bodies(server, client):
    prompt = "<|im_start|>user\nwrite add<|im_end|>\n<|im_start|>assistant\n"
    body = {
        "query": [
            prompt + "Here:\n```python\n" + PROGRAM + "```",
            prompt + "<think>draft</think>```python\ndef add(a, b):\n    return 0\n```",
        ],
        "prompts": [prompt, prompt],
        # a list, and the same list JSON-encoded as OpenRLHF passes labels through
        "labels": [["assert add(1, 2) == 3", "assert add(2, 2) == 4"], json.dumps(["assert add(1, 2) == 3"])],
    }
    assert client.post("/get_reward", body) == {"rewards": [1.0, 0.0]}
    assert client.rewards(["```python\n" + PROGRAM + "```"], [["assert add(0, 0) == 1"]]) == [0.0]


def test_hostile_programs_never_pass(client):
    hostile = [
        "import sys\nsys.exit(0)\ndef add(a, b):\n    return 0\n",
        "class R:\n    def __eq__(self, o): return True\n    __hash__ = object.__hash__\n"
        "def add(a, b):\n    return R()\n",
        "def add(a, b):\n    import os\n    os._exit(0)\n",
        'import os\nos.write(1, b\'{"outcome": "pass"}\\n\')\ndef add(a, b):\n    raise SystemExit(0)\n',
    ]
    results = client.exec([Job(i, program, ["assert add(1, 2) == 3"]) for i, program in enumerate(hostile)])
    assert [r["pass_rate"] for r in results] == [0.0] * len(hostile)
    rewards = client.rewards(["```python\n" + p + "```" for p in hostile], [["assert add(1, 2) == 3"]] * 4)
    assert rewards == [0.0] * len(hostile)


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        ("/v1/exec", b"{not json", 400, "body is not JSON"),
        ("/v1/exec", b"[1, 2]", 400, "body must be a JSON object"),
        ("/v1/exec", b"{}", 400, "field 'jobs' is required"),
        ("/v1/exec", b'{"jobs": [{"id": 1, "tests": []}]}', 400, "jobs[0]: missing field 'program'"),
        (
            "/v1/exec",
            json.dumps({"jobs": [{"id": i, "program": "", "tests": []} for i in range(51)]}),
            413,
            "51 jobs",
        ),
        ("/v1/exec", b'{"jobs": [], "deadline_s": -1}', 400, "field 'deadline_s'"),
        ("/v1/exec", b'{"jobs": [], "pad": "' + b"x" * (1 << 16) + b'"}', 413, "over the 65536-byte limit"),
        ("/get_reward", b'{"query": ["x"]}', 400, "field 'labels' is required"),
        ("/get_reward", b'{"query": ["x"], "labels": ["[1"]}', 400, "labels[0]' is a string but not a JSON"),
        ("/get_reward", b'{"query": ["x"], "labels": [[1]]}', 400, "labels[0]' must be a list of assert"),
        ("/get_reward", b'{"query": ["x", "y"], "labels": [[]]}', 400, "has 1 entries for 2 queries"),
        ("/nope", b"{}", 404, "no route POST /nope"),
    ],
)
def test_bad_requests_get_4xx_with_a_clear_message(server, path, body, status, message):
    data = body.encode() if isinstance(body, str) else body
    got_status, payload = raw_post(server, path, data)
    assert got_status == status
    assert message in payload["error"]


@pytest.mark.parametrize("token", [None, "wrong"])
def test_unauthenticated_requests_get_401(server, token):
    status, payload = raw_post(server, "/v1/exec", b'{"jobs": []}', token=token)
    assert status == 401
    assert "bearer token" in payload["error"]


def test_health_needs_no_token(server):
    health = ExecClient(server.url, token=None).health()
    assert health["status"] == "ok"
    assert health["workers"] == 2


def test_flood_gets_429_with_retry_after_then_recovers(server, client):
    slow = threading.Thread(target=client.exec, args=([Job("spin", SPIN, ["spin()"] * 2)],))
    slow.start()
    deadline = time.monotonic() + 10
    while client.health()["inflight"] == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    statuses = []
    for _ in range(20):
        try:
            client.exec([Job("x", PROGRAM, ["assert add(1, 2) == 3"])])
            statuses.append(200)
        except ExecServiceError as err:
            statuses.append(err.status)
            assert err.retry_after_s == 1.0
    slow.join()
    assert statuses.count(429) >= 1
    assert set(statuses) <= {200, 429}
    assert client.exec([Job("after", PROGRAM, ["assert add(1, 2) == 3"])])[0]["pass_rate"] == 1.0


def test_deadline_passed_gets_504(client):
    jobs = [Job(i, SPIN, ["spin()"]) for i in range(6)]  # 6 x 1 s on 2 workers: over a 1 s deadline
    with pytest.raises(ExecServiceError) as err:
        client.exec(jobs, deadline_s=1.0)
    assert err.value.status == 504
    assert "deadline of 1 s passed" in str(err.value)
