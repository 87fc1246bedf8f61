"""Every error of a definition in one 422: the semantic checks of a body that failed its schema.

When a definition is malformed (pydantic refuses it), the fields that *are* well-formed are
still judged by :func:`shared.agents.validation.definition_errors` (unknown model or tool,
bad tool config, output schema, delegates), so a form gets all its field errors at once
instead of one round trip per kind of problem. Fields with a structural error are left out
of the semantic check (their error is reported already); a tool entry that is malformed
leaves the other tools judged at their own index.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, cast

from pydantic import TypeAdapter, ValidationError

from shared.agents.definition import AgentDefinition, ToolRef

if TYPE_CHECKING:
    from shared.auth.principal import Principal
    from shared.web.context import RequestContext

FieldError = dict[str, Any]


def _field_value(name: str, value: Any) -> Any:
    """``value`` validated as the definition's field ``name`` (it is known to be well-formed)."""
    info = AgentDefinition.model_fields[name]
    field_type: Any = (
        cast(Any, Annotated)[(info.annotation, *info.metadata)] if info.metadata else info.annotation
    )
    adapter: TypeAdapter[Any] = TypeAdapter(field_type)
    return adapter.validate_python(value)


def semantic_errors(raw: Any, principal: Principal, *, agent_id: str | None = None) -> list[FieldError]:
    """The semantic errors of the well-formed parts of ``raw`` (a definition pydantic refused)."""
    from shared.agents.validation import definition_errors, tool_config_errors

    if not isinstance(raw, dict) or "template" in raw:
        return []
    body: dict[str, Any] = {str(k): v for k, v in raw.items()}  # pyright: ignore[reportUnknownVariableType,reportUnknownArgumentType]
    try:
        AgentDefinition.model_validate(body)
    except ValidationError as exc:
        malformed = {str(e["loc"][0]) for e in exc.errors() if e["loc"]}
    else:
        return []
    fields: dict[str, Any] = {}
    for name, value in body.items():
        if name in AgentDefinition.model_fields and name not in malformed:
            try:
                fields[name] = _field_value(name, value)
            except ValidationError:
                continue
    if fields.get("kind", "agent") == "agent":
        fields.pop("tools", None)  # judged one by one below, at their own index
    fields["name"] = "draft"
    definition = AgentDefinition.model_construct(None, **fields)
    if definition.kind == "workflow" and definition.workflow is None:
        definition = definition.model_copy(update={"kind": "agent"})  # judge the rest as an agent
    provider = definition.model.provider if definition.model else None
    errors: list[FieldError] = []
    tools = body.get("tools")
    if isinstance(tools, list) and definition.kind == "agent":
        for index, item in enumerate(tools):  # pyright: ignore[reportUnknownVariableType,reportUnknownArgumentType]
            try:
                ref = ToolRef.model_validate(item)
            except ValidationError:
                continue
            errors.extend(tool_config_errors(index, ref, provider))
    errors.extend(definition_errors(definition, principal, agent_id=agent_id))
    return errors


def body_errors(raw: Any, ctx: RequestContext) -> list[FieldError]:
    """``Route.body_errors`` of ``POST /agents`` and ``PUT /agents/{id}``."""
    return semantic_errors(raw, ctx.principal, agent_id=ctx.params.get("agent_id"))
