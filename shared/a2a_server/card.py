"""An agent's A2A agent card (protocol 0.3 JSON, as the official ``a2a-sdk`` reads it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import flask

    from shared.agents.repository import AgentRecord

PROTOCOL_VERSION = "0.3.0"


def public_base(request: flask.Request) -> str:
    """The service's URL as the caller reached it (behind the load balancer or the local
    gateway, which pass the original host and scheme on)."""
    proto = (request.headers.get("X-Forwarded-Proto") or request.scheme).split(",")[0].strip()
    host = (request.headers.get("X-Forwarded-Host") or request.host).split(",")[0].strip()
    return f"{proto}://{host}"


def endpoint(base: str, agent_id: str) -> str:
    return f"{base}/a2a/{agent_id}"


def agent_card(agent: AgentRecord, base: str) -> dict[str, Any]:
    from a2a.compat.v0_3.types import (
        AgentCapabilities,
        AgentCard,
        AgentSkill,
        HTTPAuthSecurityScheme,
        SecurityScheme,
        TransportProtocol,
    )

    from shared.a2a_server.tasks import dump

    definition = agent.definition
    description = definition.description.strip() or f"The agent '{definition.name}'."
    structured = definition.output_schema is not None
    output_modes = ["application/json"] if structured else ["text/plain"]
    card = AgentCard(
        protocol_version=PROTOCOL_VERSION,
        name=definition.display_name or definition.name,
        description=description,
        url=endpoint(base, agent.id),
        preferred_transport=TransportProtocol.jsonrpc.value,
        version=str(agent.version),
        capabilities=AgentCapabilities(
            streaming=True, push_notifications=False, state_transition_history=False
        ),
        default_input_modes=["text/plain"],
        default_output_modes=output_modes,
        skills=[
            AgentSkill(
                id=definition.name,
                name=definition.display_name or definition.name,
                description=description,
                tags=["agent", definition.kind],
                input_modes=["text/plain"],
                output_modes=output_modes,
            )
        ],
        security_schemes={
            "bearer": SecurityScheme(
                root=HTTPAuthSecurityScheme(
                    scheme="bearer",
                    description="A personal access token of scope runs (agpat_...), or a login access token",
                )
            )
        },
        security=[{"bearer": []}],
    )
    return dump(card)
