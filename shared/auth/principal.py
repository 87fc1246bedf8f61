"""The authenticated caller."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from shared.errors import Forbidden

Role = Literal["user", "moderator", "admin"]
ROLES: tuple[Role, ...] = ("user", "moderator", "admin")


class Principal(BaseModel):
    user_id: str
    username: str
    role: Role
    auth_method: Literal["password", "firebase"] = "password"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_moderator(self) -> bool:
        return self.role in ("moderator", "admin")


def require_role(principal: Principal, *roles: Role) -> None:
    """Raise 403 unless the caller has one of ``roles``."""
    if principal.role not in roles:
        raise Forbidden("this action needs one of the roles: " + ", ".join(roles))
