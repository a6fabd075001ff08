"""Demo data for ``tickwork run``'s first start: accounts using every catalog app, with data.

Seeded once (the first account's existence is the marker), so restarting keeps what the
demo apps have done since.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing import MICRO_PER_CREDIT
from billing.ledger import Posting, post
from tickwork import clock
from tickwork.accounts import create_account, install
from tickwork.data import Collections, iso_z
from tickwork.models import Account, App, User

DEMO_CREDITS = 20_000  # about a week of every demo app (the importer alone costs 1,440 a day)
DEMO_PASSWORD = "tickwork-demo"  # a local demo on 127.0.0.1 only; `tickwork run` prints it
DEMO_STAFF = "staff@tickwork.test"
DEMO_ACCOUNTS = (
    ("Demo Bakery", "owner@demo-bakery.test", "+15550100001"),
    ("Demo Clinic", "owner@demo-clinic.test", "+15550100002"),
)


def seed_demo(session: Session) -> list[Account]:
    """Create the demo accounts if the database has no account yet; returns what it created."""
    if session.scalar(select(func.count(Account.id))):
        return []
    apps = list(session.scalars(select(App).where(App.kind == "catalog", App.active_version_id.is_not(None))))
    created = []
    for name, email, phone in DEMO_ACCOUNTS:
        account = create_account(session, name)
        session.add(
            User(email=email, account_id=account.id, role="owner", phone=phone, password_hash=_demo_hash())
        )
        for app in apps:
            install(session, account, app)
        post(
            session,
            Posting(
                key=f"demo-grant:{account.slug}", account_id=account.id, kind="grant",
                amount=DEMO_CREDITS * MICRO_PER_CREDIT, at=clock.now(), detail={"note": "demo credits"},
            ),
        )  # fmt: skip
        _seed_records(session, account)
        created.append(account)
    session.add(User(email=DEMO_STAFF, is_staff=True, password_hash=_demo_hash()))
    session.flush()
    return created


def _demo_hash() -> str:
    from werkzeug.security import generate_password_hash

    return generate_password_hash(DEMO_PASSWORD)


def demo_logins(session: Session) -> list[str]:
    """The demo's sign-ins that still exist, as "email (role)" lines to print."""
    emails = [email for _, email, _ in DEMO_ACCOUNTS] + [DEMO_STAFF]
    users = session.scalars(select(User).where(User.email.in_(emails)).order_by(User.id))
    return [f"{user.email} ({'staff' if user.is_staff else user.role})" for user in users]


def _seed_records(session: Session, account: Account) -> None:
    data = Collections(session, account.id)
    now = clock.now()
    for number in range(1, 9):
        placed = now - timedelta(hours=6 * number)
        data["orders"].insert(
            {
                "number": f"{1000 + number}",
                "customer": ("Ada", "Grace", "Edsger", "Barbara")[number % 4],
                "total_cents": 1250 * number,
                "placed_at": iso_z(placed),
                "items": [
                    {
                        "sku": f"SKU-{number % 3}",
                        "name": f"Item {number % 3}",
                        "qty": number,
                        "price_cents": 1250,
                    }
                ],
            }
        )
    for hours in (24, 25, 30, 48):
        data["appointments"].insert(
            {
                "customer": f"Customer {hours}",
                "phone": "+15550109999",
                "starts_at": iso_z(
                    (now + timedelta(hours=hours)).replace(minute=30, second=0, microsecond=0)
                ),
                "service": "Consultation",
            }
        )
    batch = "demo-import-1"
    data["import_batches"].insert(
        {"batch": batch, "status": "pending", "rows": 600, "processed": 0, "failed": 0}
    )
    for row in range(1, 601):
        email = f"contact{row}@example.test" if row % 50 else ""  # every 50th row is invalid
        data["import_rows"].insert(
            {
                "batch": batch,
                "row_number": row,
                "email": email,
                "name": f"Contact {row}",
                "company": "Example",
            }
        )
    data["feedback"].insert({"text": "Lovely bread, slow checkout.", "rating": 4})
