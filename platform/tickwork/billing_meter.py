"""The meter the runner uses in production: every billable use becomes a ledger entry.

It adapts the runner's ``Meter`` interface to ``billing.ledger``: prices from the price card
in force at the moment of use, the app's slug and the job's name on each entry (reports
group by them), and the ledger's refusals turned into the platform's errors: a base charge
the account cannot pay skips the execution (``InsufficientCredits``); a usage charge past
the overdraft limit stops the job (``CreditLimitExceeded``).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from billing import MICRO_PER_CREDIT
from billing.ledger import LimitExceeded, Posting, post
from billing.rates import Rates, RatesError, load_rates
from tickwork import clock
from tickwork.errors import ConfigError
from tickwork.metering import CreditLimitExceeded, InsufficientCredits, TokenUsage
from tickwork.models import App, Execution


@lru_cache(maxsize=4)
def rates_from(path: str) -> Rates:
    """The price card at ``path``, read once per process."""
    try:
        return load_rates(Path(path))
    except RatesError as error:
        raise ConfigError(str(error)) from None


class LedgerMeter:
    def __init__(self, sessions: sessionmaker[Session], rates: Rates) -> None:
        self.sessions = sessions
        self.rates = rates
        self._labels: dict[tuple[int | None, int | None], tuple[str, str]] = {}

    def _label(self, session: Session, app_id: int | None, execution_id: int | None) -> tuple[str, str]:
        """(app slug, job name) for an entry, looked up once per execution."""
        key = (app_id, execution_id)
        if key not in self._labels:
            slug = session.scalar(select(App.slug).where(App.id == app_id)) if app_id is not None else None
            job = (
                session.scalar(select(Execution.job).where(Execution.id == execution_id))
                if execution_id is not None
                else None
            )
            self._labels[key] = (slug or "", job or "")
        return self._labels[key]

    def _charge(self, posting: Posting, *, base: bool) -> None:
        with self.sessions() as session:
            try:
                post(session, posting)
                session.commit()
            except LimitExceeded as refused:
                session.rollback()
                error = InsufficientCredits if base else CreditLimitExceeded
                raise error(str(refused), account_id=posting.account_id, key=posting.key) from None

    def base(
        self, *, key: str, account_id: int, execution_id: int, app_id: int, job: str, credits: int
    ) -> None:
        with self.sessions() as session:
            app, _ = self._label(session, app_id, None)
        posting = Posting(
            key=key, account_id=account_id, kind="execution", amount=-credits * MICRO_PER_CREDIT,
            at=clock.now(), app=app, job=job, execution_id=execution_id, detail={"credits": credits},
        )  # fmt: skip
        self._charge(posting, base=True)

    def email(
        self, *, key: str, account_id: int, execution_id: int | None, app_id: int | None, messages: int = 1
    ) -> None:
        now = clock.now()
        with self.sessions() as session:
            app, job = self._label(session, app_id, execution_id)
        posting = Posting(
            key=key, account_id=account_id, kind="email", amount=-self.rates.email(now) * messages, at=now,
            quantity=messages, app=app, job=job, execution_id=execution_id,
        )  # fmt: skip
        self._charge(posting, base=False)

    def sms(
        self, *, key: str, account_id: int, execution_id: int | None, app_id: int | None, segments: int
    ) -> None:
        now = clock.now()
        with self.sessions() as session:
            app, job = self._label(session, app_id, execution_id)
        posting = Posting(
            key=key, account_id=account_id, kind="sms", amount=-self.rates.sms(now) * segments, at=now,
            quantity=segments, app=app, job=job, execution_id=execution_id, detail={"segments": segments},
        )  # fmt: skip
        self._charge(posting, base=False)

    def ai(
        self,
        *,
        key: str,
        account_id: int,
        execution_id: int | None,
        app_id: int | None,
        model: str,
        usage: TokenUsage,
    ) -> None:
        now = clock.now()
        rate = self.rates.model(model, now)
        cost = rate.cost(usage.prompt_tokens, usage.cached_tokens, usage.completion_tokens)
        with self.sessions() as session:
            app, job = self._label(session, app_id, execution_id)
        posting = Posting(
            key=key, account_id=account_id, kind="ai", amount=-cost, at=now,
            quantity=usage.prompt_tokens + usage.completion_tokens, app=app, job=job,
            execution_id=execution_id,
            detail={
                "model": model, "prompt_tokens": usage.prompt_tokens, "cached_tokens": usage.cached_tokens,
                "completion_tokens": usage.completion_tokens, "reasoning_tokens": usage.reasoning_tokens,
            },
        )  # fmt: skip
        self._charge(posting, base=False)
