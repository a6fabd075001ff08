"""Small named exceptions shared across Tickwork's packages.

Each area raises its own subclass so callers can tell a user's bad input (reported and
exited with status 2) from an operational failure (status 1).
"""

from __future__ import annotations


class TickworkError(Exception):
    """Base of every error Tickwork raises on purpose."""

    exit_code = 1


class BadInput(TickworkError):
    """The user gave us something we cannot accept; the message says what and where."""

    exit_code = 2


class ConfigError(BadInput):
    """A setting from the environment is malformed; raised at start-up."""


class Conflict(BadInput):
    """The thing exists already: an email in use, an app installed twice."""
