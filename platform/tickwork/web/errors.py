"""Errors as the API answers them: ``{"error": {"code": .., "message": ..}}`` with a status.

Service functions raise Tickwork's own errors (``BadInput``, ``NotFound``, ``Conflict``);
``from_tickwork`` maps them to the status that fits, so views need no try blocks.
"""

from __future__ import annotations

from typing import Any

from tickwork.errors import BadInput, Conflict, TickworkError


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


def from_tickwork(error: TickworkError) -> ApiError:
    from tickwork.accounts import NotFound

    if isinstance(error, NotFound):
        return ApiError(404, "not_found", str(error))
    if isinstance(error, Conflict):
        return ApiError(409, "conflict", str(error))
    if isinstance(error, BadInput):
        return ApiError(422, "invalid", str(error))
    return ApiError(500, "internal", str(error))


STATUS_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_requests",
}
