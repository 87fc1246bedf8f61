"""Publishable snapshots and download bundles.

**What never leaves an agent** (the publish rule, applied to the snapshot every listing
stores, so installs and downloads can only ever see the cleaned copy):

- ``metadata`` keys that are private: ``private`` itself, any key starting with ``_``, and
  any key whose name mentions a credential (``secret``, ``token``, ``password``,
  ``passwd``, ``api_key``/``apikey``, ``credential``, ``private_key``) — at any depth;
- tool config fields the tool's config model marks secret
  (``Field(json_schema_extra={"secret": True})``) or whose name starts with ``_``.

The system prompt, model and limits are the agent itself and are published as they are.

**Content hash**: ``sha256`` is the hex SHA-256 of the UTF-8 bytes of
``json.dumps({"definition": definition, "manifest": manifest}, sort_keys=True,
separators=(",", ":"), ensure_ascii=False)``, where both are exactly the JSON objects in
the bundle.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, cast

from shared.agents.definition import AgentDefinition
from shared.marketplace.schemas import (
    Bundle,
    BundleListing,
    ListingRecord,
    Manifest,
    ManifestMcpServer,
    ManifestTool,
)

_CREDENTIAL = re.compile(r"secret|token|passw(or)?d|api[_-]?key|credential|private[_-]?key", re.IGNORECASE)

# What each tool category lets an agent touch, for the manifest's permission list.
_PERMISSIONS_BY_TOOL: dict[str, tuple[str, ...]] = {
    "file_read": ("workspace:read",),
    "grep": ("workspace:read",),
    "find": ("workspace:read",),
    "file_write": ("workspace:read", "workspace:write"),
    "web_search": ("web:search",),
}


def _is_private_key(key: str) -> bool:
    return key == "private" or key.startswith("_") or bool(_CREDENTIAL.search(key))


def _public_value(value: Any) -> Any:
    if isinstance(value, dict):
        mapping = cast(dict[str, Any], value)
        return {k: _public_value(v) for k, v in mapping.items() if not _is_private_key(k)}
    if isinstance(value, list):
        return [_public_value(v) for v in cast(list[Any], value)]
    return value


def _secret_config_fields(tool_name: str) -> set[str]:
    from shared.tools.registry import get_tool

    spec = get_tool(tool_name)
    if spec is None:
        return set()
    secret: set[str] = set()
    for name, field in spec.config_model.model_fields.items():
        extra: Any = field.json_schema_extra
        if isinstance(extra, dict) and cast(dict[str, Any], extra).get("secret") is True:
            secret.add(name)
    return secret


def publishable(definition: AgentDefinition) -> AgentDefinition:
    """The definition with everything private removed (see the module docstring)."""
    data = definition.model_dump(mode="json")
    data["metadata"] = _public_value(data.get("metadata") or {})
    tools: list[dict[str, Any]] = data.get("tools") or []
    for tool in tools:
        hidden = _secret_config_fields(str(tool["name"]))
        config: dict[str, Any] = tool.get("config") or {}
        tool["config"] = {k: v for k, v in config.items() if k not in hidden and not k.startswith("_")}
    return AgentDefinition.model_validate(data)


def manifest_of(definition: AgentDefinition, mcp_servers: list[ManifestMcpServer] | None = None) -> Manifest:
    from shared.tools.registry import get_tool

    tools: list[ManifestTool] = []
    permissions: set[str] = set()
    for ref in definition.tools:
        if not ref.enabled:
            continue
        spec = get_tool(ref.name)
        if spec is None:
            tools.append(ManifestTool(name=ref.name, category="other", requires_approval=False))
            permissions.add(f"tool:{ref.name}")
            continue
        approval = spec.requires_approval(spec.parse_config(ref.config))
        tools.append(ManifestTool(name=ref.name, category=spec.category, requires_approval=approval))
        permissions.update(_PERMISSIONS_BY_TOOL.get(ref.name, (f"tool:{ref.name}",)))
    model = f"{definition.model.provider}/{definition.model.name}" if definition.model else None
    if model:
        permissions.add("model:" + model)
    for server in mcp_servers or []:
        permissions.add(f"mcp:{server.url}")
    return Manifest(tools=tools, permissions=sorted(permissions), model=model, mcp_servers=mcp_servers or [])


def content_hash(definition: dict[str, Any], manifest: dict[str, Any]) -> str:
    canonical = json.dumps(
        {"definition": definition, "manifest": manifest},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def bundle_of(record: ListingRecord) -> Bundle:
    definition = record.definition.model_dump(mode="json")
    manifest = manifest_of(record.definition, record.mcp_servers)
    manifest_json = manifest.model_dump(mode="json")
    listing = BundleListing.model_validate(record.model_dump(include=set(BundleListing.model_fields)))
    return Bundle(
        definition=definition,
        manifest=manifest,
        listing=listing,
        sha256=content_hash(definition, manifest_json),
    )
