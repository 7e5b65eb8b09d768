"""The one error type of the reward service: an HTTP status and a message naming what was wrong."""

from __future__ import annotations

from http import HTTPStatus


class RequestError(Exception):
    """A request the service refuses; carries the HTTP status, a message naming the field, extra headers."""

    def __init__(self, status: HTTPStatus, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}
