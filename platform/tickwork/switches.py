"""The schedule switches: an installation's status, and an app's platform-wide switch.

Flipping a switch records when it changed, so the spawner's catch-up never replays slots
that passed while it was off: a resumed app runs from its next slot.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from tickwork import clock
from tickwork.models import App, Installation


def set_schedule_status(session: Session, installation: Installation, on: bool) -> bool:
    """Switch one account's installation on or off; True if it changed."""
    status = "on" if on else "off"
    if installation.schedule_status == status:
        return False
    installation.schedule_status = status
    installation.status_changed_at = clock.now()
    session.flush()
    return True


def set_platform_switch(session: Session, app: App, enabled: bool) -> bool:
    """Switch an app on or off for every account at once (staff); True if it changed."""
    if app.enabled == enabled:
        return False
    app.enabled = enabled
    app.enabled_changed_at = clock.now()
    session.flush()
    return True
