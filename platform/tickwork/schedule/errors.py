"""The one error the schedule package raises: a pointed, friendly report of bad input.

A schedule is typed by a person, so the message names the field, shows what it allows and
points at the offending text with carets, the way a compiler would.
"""

from __future__ import annotations

from tickwork.errors import BadInput

#: What a whole schedule may look like; the ``allowed`` text of whole-expression errors.
SCHEDULE_FORMS = (
    "H:MM (9:00), days then H:MM (mon-fri 9:00), five cron fields (0 9 * * 1-5) "
    "or a preset (5m 10m 15m 30m 1h 2h 4h 6h 12h daily weekly)"
)


class ScheduleError(BadInput):
    """A schedule expression that cannot be accepted, with where and why."""

    def __init__(
        self,
        expression: str,
        field: str,
        position: int,
        reason: str,
        allowed: str = SCHEDULE_FORMS,
        length: int = 1,
    ) -> None:
        self.expression = expression
        self.field = field
        self.position = max(0, min(position, len(expression)))
        self.length = max(1, length)
        self.allowed = allowed
        self.reason = reason
        super().__init__(self._message())

    def __reduce__(self) -> tuple[type[ScheduleError], tuple[str, str, int, str, str, int]]:
        """Pickle with every attribute (a job queue may carry the error between processes)."""
        return ScheduleError, (
            self.expression,
            self.field,
            self.position,
            self.reason,
            self.allowed,
            self.length,
        )

    def shifted(self, expression: str, offset: int) -> ScheduleError:
        """The same error reported inside a longer ``expression`` that holds ours at ``offset``."""
        return ScheduleError(
            expression, self.field, self.position + offset, self.reason, self.allowed, self.length
        )

    def _message(self) -> str:
        head = f'invalid schedule "{self.expression}": {self.reason}'
        if self.field != "schedule":
            head += f" (the {self.field} field allows {self.allowed})"
        if not self.expression.strip():
            return head
        carets = " " * self.position + "^" * min(self.length, max(1, len(self.expression) - self.position))
        return f"{head}\n  {self.expression}\n  {carets}"

    def __str__(self) -> str:
        return self._message()
