"""The authenticated caller."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from shared.errors import Forbidden

Role = Literal["user", "moderator", "admin"]
ROLES: tuple[Role, ...] = ("user", "moderator", "admin")


class AgentNotAllowed(Forbidden):
    code = "agent_not_allowed"


class Principal(BaseModel):
    user_id: str
    username: str
    role: Role
    auth_method: Literal["password", "firebase", "token"] = "password"
    # A personal access token's id, scopes and optional agent restriction (None: a login
    # session, which has every scope and reaches every agent of its user).
    token_id: str | None = None
    scopes: frozenset[str] | None = None
    agent_ids: frozenset[str] | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_moderator(self) -> bool:
        return self.role in ("moderator", "admin")

    def may_use_agent(self, agent_id: str) -> bool:
        return self.agent_ids is None or agent_id in self.agent_ids

    def require_agent(self, agent_id: str) -> None:
        """403 ``agent_not_allowed`` when this credential is restricted to other agents."""
        if not self.may_use_agent(agent_id):
            raise AgentNotAllowed("this token is restricted to other agents", details={"agent_id": agent_id})


def require_role(principal: Principal, *roles: Role) -> None:
    """Raise 403 unless the caller has one of ``roles``."""
    if principal.role not in roles:
        raise Forbidden("this action needs one of the roles: " + ", ".join(roles))
