"""The OpenRLHF remote-reward body ({"query", "prompts", "labels"}) turned into executor jobs.

Each query is prompt + response as OpenRLHF posts it; the response is what follows the prompt, and the
program is taken from it by the RL rule (`acecoder_jax.rl.answer.answer_program`, imported on first use:
it is the one copy of that rule). Each label is the list of assert strings for its sample, or that list
JSON-encoded as a string (OpenRLHF passes labels through as strings).
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from executor.job import Job
from executor.serve_errors import RequestError


def reward_jobs(body: dict[str, Any], max_jobs: int) -> list[Job]:
    """One job per query: the program of its response against the asserts of its label."""
    queries, labels = body.get("query"), body.get("labels")
    prompts = body.get("prompts")
    for name, value in (("query", queries), ("labels", labels)):
        if not isinstance(value, list):
            raise RequestError(HTTPStatus.BAD_REQUEST, f"field {name!r} is required: a list")
    if prompts is not None and not isinstance(prompts, list):
        raise RequestError(HTTPStatus.BAD_REQUEST, "field 'prompts' must be a list when given")
    if len(queries) > max_jobs:
        raise RequestError(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"{len(queries)} queries is over the limit of {max_jobs}"
        )
    for name, value in (("labels", labels), ("prompts", prompts)):
        if value is not None and len(value) != len(queries):
            raise RequestError(
                HTTPStatus.BAD_REQUEST, f"field {name!r} has {len(value)} entries for {len(queries)} queries"
            )
    from acecoder_jax.rl.answer import answer_program

    jobs = []
    for index, query in enumerate(queries):
        if not isinstance(query, str):
            raise RequestError(HTTPStatus.BAD_REQUEST, f"field 'query[{index}]' must be a string")
        prompt = prompts[index] if prompts is not None else ""
        if not isinstance(prompt, str):
            raise RequestError(HTTPStatus.BAD_REQUEST, f"field 'prompts[{index}]' must be a string")
        response = query[len(prompt) :] if prompt and query.startswith(prompt) else query
        jobs.append(Job(id=index, program=answer_program(response), tests=_asserts(labels[index], index)))
    return jobs


def _asserts(label: Any, index: int) -> list[str]:
    where = f"field 'labels[{index}]'"
    if isinstance(label, str):
        try:
            label = json.loads(label)
        except json.JSONDecodeError as err:
            raise RequestError(
                HTTPStatus.BAD_REQUEST, f"{where} is a string but not a JSON list of asserts: {err}"
            ) from None
    if not isinstance(label, list) or not all(isinstance(test, str) for test in label):
        raise RequestError(HTTPStatus.BAD_REQUEST, f"{where} must be a list of assert strings")
    return label
