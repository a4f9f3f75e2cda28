"""Who is calling: the identity every service authorizes against."""

from __future__ import annotations

from dataclasses import dataclass

from blockpost.db.models import User
from blockpost.errors import PermissionDenied


@dataclass(frozen=True, slots=True)
class Principal:
    id: int
    uuid: str
    username: str
    admin: bool

    @classmethod
    def of(cls, user: User) -> Principal:
        return cls(id=user.id, uuid=user.uuid, username=user.username, admin=user.admin)


def require_admin(caller: Principal) -> None:
    if not caller.admin:
        raise PermissionDenied("only an administrator may do this")
