"""The job context (DESIGN.md section 6): everything a job function may use, and nothing else.

A context belongs to one execution of one job for one account. Every part is scoped to that
account (and app, where it matters), so a job cannot reach another account's data, state,
secrets or messages. Writes commit as they happen: a job that crashes or times out halfway
keeps the progress it made (the cursor it saved, the reminders it marked).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from tickwork import clock
from tickwork.context.ai import AIClient
from tickwork.context.email import EmailSender
from tickwork.context.http import HttpClient
from tickwork.context.sms import SmsSender
from tickwork.data import Collections
from tickwork.state import AppState


@dataclass(frozen=True)
class AccountInfo:
    """What a job may know of its account."""

    id: int
    name: str
    owner_email: str | None
    owner_phone: str | None


class JobContext:
    """``ctx``: passed to every job function as its first argument."""

    def __init__(
        self,
        *,
        account: AccountInfo,
        app: str,
        job: str,
        execution_id: int,
        scheduled_for: datetime,
        source: str,
        data_session: Session,
        state: AppState,
        email: EmailSender,
        sms: SmsSender,
        ai: AIClient,
        http: HttpClient,
        env: Mapping[str, str],
        secrets: Mapping[str, str],
        log: logging.Logger,
        enqueue: Callable[[str, dict[str, Any] | None], int],
        deadline: float,
    ) -> None:
        self.account = account
        self.app = app
        self.job = job
        self.execution_id = execution_id
        self.scheduled_for = scheduled_for
        self.source = source
        self.data = Collections(data_session, account.id, autocommit=True)
        self.state = state
        self.email = email
        self.sms = sms
        self.ai = ai
        self.http = http
        self.env = env
        self.secrets = secrets
        self.log = log
        self._enqueue = enqueue
        self._deadline = deadline

    def now(self) -> datetime:
        """The platform clock (aware UTC)."""
        return clock.now()

    def time_left(self) -> float:
        """Seconds until this run's deadline (never negative)."""
        return max(0.0, self._deadline - time.monotonic())

    def enqueue(self, job: str, params: dict[str, Any] | None = None) -> int:
        """Queue a follow-up run of a job of this app for this account; returns its execution id.

        It is billed like any other execution.
        """
        return self._enqueue(job, params)

    def __repr__(self) -> str:
        return f"<JobContext {self.app}.{self.job} account={self.account.id} execution={self.execution_id}>"
