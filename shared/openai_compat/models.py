"""``GET /v1/models``: the caller's runnable agents as models."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from shared.openai_compat.schemas import ModelList, ModelObject

if TYPE_CHECKING:
    from shared.agents.repository import AgentRecord
    from shared.auth.principal import Principal

MAX_PAGES = 10  # 1000 agents


def list_models(principal: Principal) -> ModelList:
    from shared.agents.repository import list_agents

    agents: list[AgentRecord] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        page, cursor = list_agents(principal.user_id, limit=100, cursor=cursor)
        agents.extend(a for a in page if principal.may_use_agent(a.id))
        if cursor is None:
            break
    names = Counter(a.definition.name for a in agents)
    return ModelList(
        data=[
            ModelObject(
                id=a.definition.name if names[a.definition.name] == 1 else a.id,
                created=int(a.created_at.timestamp()),
                owned_by=principal.username,
            )
            for a in agents
        ]
    )
