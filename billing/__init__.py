"""Billing for Tickwork: rates, the credit ledger, metering, reports and projections.

A leaf library: it takes a SQLAlchemy session and imports nothing from ``tickwork``.
Money is integer micro-credits everywhere (1 credit = 1,000,000 micro-credits).
"""

from __future__ import annotations

MICRO_PER_CREDIT = 1_000_000
