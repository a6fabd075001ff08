"""Who is asking, and what their role lets them do (DESIGN.md section 2).

Every view asks the principal for the account it may act in; nothing reads another account's
rows without going through ``account_in_scope``. Owners and members see their own account
only; staff see and operate every account, naming it explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from tickwork.accounts import NotFound, find_account
from tickwork.models import Account, User
from tickwork.web.errors import ApiError


@dataclass(frozen=True)
class Principal:
    user_id: int
    email: str
    account_id: int | None
    role: str | None  # "owner" or "member" in the account; None for staff
    is_staff: bool

    @classmethod
    def of(cls, user: User) -> Principal:
        return cls(user.id, user.email, user.account_id, user.role, user.is_staff)

    @property
    def is_owner(self) -> bool:
        return self.role == "owner"

    @property
    def label(self) -> str:
        return "staff" if self.is_staff else f"{self.role}"

    def account_in_scope(self, session: Session, requested: str | None = None) -> Account:
        """The account this request acts in: the caller's own, or for staff the one named.

        A member naming another account is refused (403) rather than told it does not exist.
        """
        if self.is_staff:
            if not requested:
                raise ApiError(400, "account_required", "staff must name the account (?account=ID or slug)")
            try:
                return find_account(session, requested)
            except NotFound as error:
                raise ApiError(404, "not_found", str(error)) from None
        assert self.account_id is not None  # the users table guarantees it for non-staff
        own = session.get(Account, self.account_id)
        if own is None:
            raise ApiError(401, "unauthenticated", "this user's account no longer exists")
        if requested and requested not in (str(own.id), own.slug):
            raise ApiError(403, "forbidden", "you can only see your own account")
        return own

    def require_owner(self) -> None:
        """Owners (and staff) manage an account: switches, apps, variables, secrets, keys, users."""
        if not (self.is_owner or self.is_staff):
            raise ApiError(403, "forbidden", "only an account owner can do this")

    def require_staff(self) -> None:
        if not self.is_staff:
            raise ApiError(403, "forbidden", "only platform staff can do this")
