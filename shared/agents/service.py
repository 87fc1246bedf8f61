"""The agents service: validate, then store — what the HTTP handlers (and templates) call."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from shared.agents import repository
from shared.agents.definition import AgentDefinition
from shared.agents.repository import AgentRecord, AgentSource
from shared.agents.validation import validate_definition
from shared.errors import BadRequest, Forbidden

if TYPE_CHECKING:
    from shared.auth.principal import Principal

MAX_IDEMPOTENCY_KEY_CHARS = 255
_ETAG = re.compile(r'^(?:W/)?"?(\d{1,9})"?$')


def etag(record: AgentRecord) -> str:
    """The ETag header value for an agent at its version (``"3"``)."""
    return f'"{record.version}"'


def expected_version(if_match: str | None) -> int | None:
    """The version an ``If-Match`` header demands: ``3``, ``"3"`` or ``W/"3"``; ``*`` = any."""
    if if_match is None or not if_match.strip() or if_match.strip() == "*":
        return None
    match = _ETAG.match(if_match.strip())
    if match is None:
        raise BadRequest('If-Match must be an agent version, e.g. 3 or "3"', code="invalid_if_match")
    return int(match.group(1))


def _checked_key(idempotency_key: str | None) -> str | None:
    if idempotency_key is not None and len(idempotency_key) > MAX_IDEMPOTENCY_KEY_CHARS:
        raise BadRequest(f"Idempotency-Key must be at most {MAX_IDEMPOTENCY_KEY_CHARS} characters")
    return idempotency_key


def create(
    principal: Principal,
    definition: AgentDefinition,
    *,
    idempotency_key: str | None = None,
    source: AgentSource | None = None,
) -> AgentRecord:
    validate_definition(definition, principal)
    return repository.create_agent(
        principal.user_id, definition, source=source, idempotency_key=_checked_key(idempotency_key)
    )


def update(
    agent_id: str, principal: Principal, definition: AgentDefinition, *, if_match: str | None = None
) -> AgentRecord:
    expected = expected_version(if_match)
    # 404 / 403 for an agent the caller cannot see / change, before judging the definition.
    current = repository.get_agent(agent_id, principal)
    if current.owner_id != principal.user_id:
        raise Forbidden("only the owner can change an agent")
    validate_definition(definition, principal, agent_id=agent_id)
    if current.source is not None and current.source.approval_tools:
        from shared.agents.validation import publisher_approval_errors

        errors = publisher_approval_errors(definition, current.source.approval_tools)
        if errors:
            from shared.errors import ValidationFailed

            raise ValidationFailed("invalid agent definition: tools", details={"fields": errors})
    return repository.update_agent(agent_id, principal, definition, expected_version=expected)


def delete(agent_id: str, principal: Principal, *, if_match: str | None = None) -> None:
    repository.delete_agent(agent_id, principal, expected_version=expected_version(if_match))
