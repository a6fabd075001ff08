"""An execution's log: what the job logs through ``ctx.log`` and everything it prints, capped.

Inside ``with capture as logger:`` (``capture = LogCapture()``), ``logger`` is a logger of this
execution alone, and ``sys.stdout`` / ``sys.stderr`` write to the same buffer. Each log record and each
printed line becomes one line, ``2026-11-22T13:05:00Z INFO message``, stamped by
``tickwork.clock``; printed lines are tagged STDOUT or STDERR. Once ``cap_bytes`` (UTF-8) are
kept, the rest is counted and dropped, and ``text()`` ends with ``… [N more bytes truncated]``.

Redirecting sys.stdout is process-wide: a worker runs one job per process at a time, which is
what makes this safe. Writes from other threads of the job land in the same buffer (it is locked).
"""

from __future__ import annotations

import io
import logging
import sys
import threading
import uuid
from datetime import UTC
from types import TracebackType
from typing import TextIO, cast

from tickwork import clock

DEFAULT_CAP_BYTES = 64 * 1024


def _timestamp() -> str:
    return clock.now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Buffer:
    """UTF-8 text up to a byte cap; what does not fit is only counted."""

    def __init__(self, cap_bytes: int) -> None:
        self.cap_bytes = cap_bytes
        self._lock = threading.Lock()
        self._kept = bytearray()
        self.dropped = 0

    def add_line(self, line: str) -> None:
        data = (line + "\n").encode("utf-8", errors="replace")
        with self._lock:
            room = self.cap_bytes - len(self._kept)
            if room >= len(data):
                self._kept += data
            else:
                self._kept += data[: max(room, 0)]
                self.dropped += len(data) - max(room, 0)

    def text(self) -> str:
        with self._lock:
            # A cut in the middle of a multi-byte character leaves a partial one at the end: drop it.
            kept = self._kept.decode("utf-8", errors="ignore")
            dropped = self.dropped
        if dropped:
            if kept and not kept.endswith("\n"):
                kept += "\n"
            kept += f"… [{dropped} more bytes truncated]"
        return kept


class _Handler(logging.Handler):
    def __init__(self, buffer: _Buffer) -> None:
        super().__init__(logging.DEBUG)
        self.buffer = buffer

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.exc_info:
                message += "\n" + logging.Formatter().formatException(record.exc_info)
            if record.stack_info:
                message += "\n" + record.stack_info
            self.buffer.add_line(f"{_timestamp()} {record.levelname} {message}")
        except Exception:
            self.handleError(record)


class _LineWriter(io.TextIOBase):
    """A text stream turning each written line into a stamped log line."""

    def __init__(self, buffer: _Buffer, tag: str) -> None:
        super().__init__()
        self.buffer_ = buffer
        self.tag = tag
        self._partial = ""
        self._lock = threading.Lock()

    encoding = "utf-8"

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        with self._lock:
            lines = (self._partial + text).split("\n")
            self._partial = lines.pop()
        for line in lines:
            self.buffer_.add_line(f"{_timestamp()} {self.tag} {line}")
        return len(text)

    def flush(self) -> None:
        """Lines are kept as they are completed; a partial line waits for its end or for ``finish``."""

    def finish(self) -> None:
        with self._lock:
            partial, self._partial = self._partial, ""
        if partial:
            self.buffer_.add_line(f"{_timestamp()} {self.tag} {partial}")


class LogCapture:
    """Captures one execution's log records and printed output into one capped buffer."""

    def __init__(self, cap_bytes: int = DEFAULT_CAP_BYTES, *, name: str | None = None) -> None:
        if cap_bytes < 1:
            raise ValueError(f"cap_bytes must be at least 1; got {cap_bytes}")
        self._buffer = _Buffer(cap_bytes)
        # A Logger made directly is not registered with logging's manager, so the per-execution
        # names do not pile up in a long-lived worker.
        self.logger = logging.Logger(name or f"tickwork.job.{uuid.uuid4().hex[:12]}", logging.DEBUG)
        self.logger.propagate = False
        self.logger.addHandler(_Handler(self._buffer))
        self._stdout = _LineWriter(self._buffer, "STDOUT")
        self._stderr = _LineWriter(self._buffer, "STDERR")
        self._saved: tuple[TextIO, TextIO] | None = None

    def __enter__(self) -> logging.Logger:
        """Start capturing printed output; returns the execution's logger (also ``self.logger``)."""
        if self._saved is not None:
            raise RuntimeError("this LogCapture is already capturing")
        self._saved = (sys.stdout, sys.stderr)
        sys.stdout, sys.stderr = cast(TextIO, self._stdout), cast(TextIO, self._stderr)
        return self.logger

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._saved is not None:
            sys.stdout, sys.stderr = self._saved
            self._saved = None
        self._stdout.finish()
        self._stderr.finish()

    @property
    def dropped_bytes(self) -> int:
        """Bytes that did not fit under the cap."""
        return self._buffer.dropped

    def text(self) -> str:
        """Everything captured so far (within the cap)."""
        return self._buffer.text()
