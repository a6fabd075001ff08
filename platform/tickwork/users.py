"""People who sign in: account owners and members, and platform staff.

Passwords are stored only as salted scrypt hashes (werkzeug), and an unknown email costs the
same hash check as a wrong password, so a login form cannot be used to learn who has an account.
"""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from tickwork.errors import BadInput, Conflict
from tickwork.models import ROLES, Account, User

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD_LENGTH = 8
_DUMMY_HASH = generate_password_hash("tickwork-timing-equaliser")


def normalize_email(email: str) -> str:
    address = email.strip().lower()
    if len(address) > 254 or not EMAIL_PATTERN.match(address):
        raise BadInput(f"{email!r} is not an email address")
    return address


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise BadInput(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    return password


def create_user(
    session: Session,
    email: str,
    password: str,
    *,
    account: Account | None = None,
    role: str | None = None,
    staff: bool = False,
) -> User:
    """A user of one account with a role, or a staff user (no account)."""
    if staff == (account is not None):
        raise BadInput(
            "a user is either staff or a member of one account (give --account and --role, or --staff)"
        )
    if account is not None and role not in ROLES:
        raise BadInput(f"the role must be one of {', '.join(ROLES)}")
    user = User(
        email=normalize_email(email),
        password_hash=generate_password_hash(check_password(password)),
        account_id=account.id if account else None,
        role=role if account else None,
        is_staff=staff,
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"a user with the email {user.email} exists already") from None
    return user


def find_user(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The user whose email and password these are, or None."""
    user = find_user(session, email)
    if user is None or not user.password_hash:
        check_password_hash(_DUMMY_HASH, password)
        return None
    return user if check_password_hash(user.password_hash, password) else None
