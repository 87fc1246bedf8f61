"""``POST /agents`` with ``{"template", "name"}``: create the caller's agent from a built-in template.

Delegate templates (``delegate_templates``) are instantiated first, each as its own agent of
the caller named ``<name>-<template>``, and their ids become the new agent's ``delegates``.
Everything goes through ``shared.agents.service.create`` — the same validation as a
definition sent by a user. With an ``Idempotency-Key`` every agent of the request gets a key
derived from it, so a retry returns the same agents. Without one, agents created by a request
that then fails are deleted again (nothing half-made is left behind).
"""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING

from shared.agents import repository, service
from shared.agents.definition import AgentDefinition
from shared.errors import NotFound, ValidationFailed
from shared.templates.catalog import TemplatePublic, get_template

if TYPE_CHECKING:
    from shared.agents.repository import AgentRecord
    from shared.agents.schemas import AgentFromTemplate
    from shared.auth.principal import Principal

_log = logging.getLogger(__name__)

MAX_TEMPLATE_DEPTH = 3
NAME_MAX = 63


def _child_key(key: str | None, template: str) -> str | None:
    if key is None:
        return None
    return "template-delegate:" + hashlib.sha256(f"{key}|{template}".encode()).hexdigest()


def _child_name(parent: str, template: str) -> str:
    return f"{parent}-{template}"[:NAME_MAX].rstrip("-._")


def _instantiate(
    principal: Principal,
    template: TemplatePublic,
    name: str,
    display_name: str | None,
    key: str | None,
    created: list[AgentRecord],
    depth: int,
) -> AgentRecord:
    if depth > MAX_TEMPLATE_DEPTH:
        raise ValidationFailed.field("template", "template delegates are nested too deeply")
    delegate_ids: list[str] = []
    for child in template.delegate_templates:
        record = _instantiate(
            principal,
            get_template(child),
            _child_name(name, child),
            None,
            _child_key(key, child),
            created,
            depth + 1,
        )
        delegate_ids.append(record.id)
    base = template.definition
    fields = base.model_dump()
    fields.update(
        name=name,
        display_name=display_name or base.display_name,
        delegates=[*base.delegates, *delegate_ids],
        metadata={**base.metadata, "template": template.name},
    )
    record = service.create(principal, AgentDefinition.model_validate(fields), idempotency_key=key)
    created.append(record)
    return record


def create_from_template(
    principal: Principal, request: AgentFromTemplate, *, idempotency_key: str | None = None
) -> AgentRecord:
    """The caller's new agent (and its delegates) from ``request.template``."""
    try:
        template = get_template(request.template)
    except NotFound:
        raise ValidationFailed.field(
            "template",
            f"unknown template '{request.template}' (see GET /templates)",
            error_type="unknown_template",
        ) from None
    created: list[AgentRecord] = []
    try:
        return _instantiate(
            principal,
            template,
            request.name or template.name,
            request.display_name,
            idempotency_key,
            created,
            0,
        )
    except BaseException:
        if idempotency_key is None:
            for record in created:
                try:
                    repository.delete_agent(record.id, principal, expected_version=None)
                except Exception:
                    _log.warning("could not remove an agent of a failed template request", exc_info=True)
        raise
