"""The /auth/tokens use cases: create (checking scopes and agents), list."""

from __future__ import annotations

from shared.auth import personal_tokens
from shared.auth.principal import Principal
from shared.auth.token_schemas import TokenCreate, TokenCreated, TokenList, TokenPublic
from shared.errors import ValidationFailed


def _check_agents(principal: Principal, agent_ids: list[str]) -> None:
    from shared.agents.repository import load_current

    found = load_current(agent_ids)
    missing = [a for a in agent_ids if a not in found or found[a].owner_id != principal.user_id]
    if missing:
        raise ValidationFailed.field("agent_ids", "not your agents: " + ", ".join(missing))


def create(principal: Principal, body: TokenCreate) -> TokenCreated:
    if body.agent_ids is not None:
        _check_agents(principal, body.agent_ids)
    record, secret = personal_tokens.create_token(
        principal.user_id,
        principal.role,
        name=body.name,
        scopes=body.scopes,
        expires_in_days=body.expires_in_days,
        agent_ids=body.agent_ids,
    )
    return TokenCreated(token=TokenPublic.of(record), secret=secret)


def list_mine(principal: Principal) -> TokenList:
    return TokenList(items=[TokenPublic.of(r) for r in personal_tokens.list_tokens(principal.user_id)])
