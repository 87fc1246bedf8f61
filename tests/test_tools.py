"""The tool registry: GET /tools, config validation, building for a run (issue 4)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from shared.tools.registry import ToolContext, build_tools, get_tool, list_tools
from tests.conftest import ApiClient

ROOT = Path(__file__).resolve().parent.parent


def _ref(name: str, **config: Any) -> Any:
    from shared.agents.definition import ToolRef

    return ToolRef(name=name, config=config)


def test_get_tools_lists_the_registry(agents_api: ApiClient) -> None:
    response = agents_api.get("/tools")
    assert response.status_code == 200
    tools = {t["name"]: t for t in response.get_json()}
    assert {"file_read", "file_write", "grep", "find", "web_search"} <= set(tools)
    assert set(tools) == {spec.name for spec in list_tools()}
    for tool in tools.values():
        assert set(tool) >= {"name", "description", "category", "config_schema", "requires_approval_default"}
        assert tool["config_schema"]["type"] == "object"
        assert tool["config_schema"].get("additionalProperties") is False
    assert tools["file_read"]["config_schema"]["properties"]["max_bytes"]["maximum"] == 1024 * 1024
    assert tools["grep"]["category"] == "files" and tools["web_search"]["category"] == "web"
    assert tools["web_search"]["available_providers"] == ["vertex-gemini", "vertex-anthropic"]


def test_registry_metadata_does_not_import_pydantic_ai() -> None:
    code = (
        "import sys; from shared.tools.schemas import list_tool_metadata; "
        "from shared.agents.validation import tool_config_errors; "
        "from shared.agents.definition import ToolRef; "
        "assert len(list_tool_metadata()) >= 5; "
        "ref = ToolRef(name='grep', config={'max_matches': 5}); "
        "assert tool_config_errors(0, ref, 'vertex-gemini') == []; "
        "assert 'pydantic_ai' not in sys.modules, 'pydantic_ai imported'; print('ok')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def test_web_search_builds_a_native_tool(tmp_path: Path) -> None:
    from pydantic_ai.native_tools import WebSearchTool

    ctx = ToolContext(user_id="u", workspace=tmp_path)
    built = build_tools(
        [_ref("web_search", max_uses=2, blocked_domains=["spam.example"])], ctx, "vertex-anthropic"
    )
    assert built.tools == []
    assert len(built.native_tools) == 1 and isinstance(built.native_tools[0], WebSearchTool)
    assert built.native_tools[0].max_uses == 2 and built.native_tools[0].blocked_domains == ["spam.example"]


def test_disabled_tools_are_not_built_and_unavailable_ones_refused(tmp_path: Path) -> None:
    from shared.agents.definition import ToolRef
    from shared.errors import ValidationFailed

    ctx = ToolContext(user_id="u", workspace=tmp_path)
    refs = [ToolRef(name="grep", enabled=False), ToolRef(name="find")]
    assert [t.name for t in build_tools(refs, ctx, "vertex-gemini").tools] == ["find"]
    with pytest.raises(ValidationFailed) as info:
        build_tools([_ref("web_search", max_uses=3)], ctx, "vertex-gemini")
    assert info.value.details["fields"][0]["loc"] == "tools[0].config.max_uses"
    spec = get_tool("web_search")
    assert spec is not None and not spec.available("openai")


def test_requires_approval_default_and_override(tmp_path: Path) -> None:
    ctx = ToolContext(user_id="u", workspace=tmp_path)
    default = build_tools([_ref("file_write")], ctx, "vertex-gemini").tools[0]
    overridden = build_tools([_ref("file_write", requires_approval=True)], ctx, "vertex-gemini").tools[0]
    spec = get_tool("file_write")
    assert spec is not None
    assert default.requires_approval is spec.requires_approval_default
    assert overridden.requires_approval is True


def test_tools_run_inside_an_agent(tmp_path: Path) -> None:
    """The built tools work as pydantic-ai tools: a scripted model writes, then reads back."""
    from pydantic_ai import Agent
    from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
    from pydantic_ai.models.function import AgentInfo, FunctionModel

    written: list[str] = []
    ctx = ToolContext(user_id="u", workspace=tmp_path, on_file_written=written.append)
    built = build_tools([_ref("file_write"), _ref("file_read")], ctx, "vertex-gemini")

    def script(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        returns = [p for m in messages for p in getattr(m, "parts", []) if isinstance(p, ToolReturnPart)]
        if not returns:
            return ModelResponse(
                parts=[ToolCallPart("file_write", {"path": "out/a.txt", "content": "hi"}, tool_call_id="c1")]
            )
        if len(returns) == 1:
            return ModelResponse(parts=[ToolCallPart("file_read", {"path": "../escape"}, tool_call_id="c2")])
        if len(returns) == 2:
            return ModelResponse(parts=[ToolCallPart("file_read", {"path": "out/a.txt"}, tool_call_id="c3")])
        return ModelResponse(parts=[TextPart(str(returns[-1].content))])

    agent = Agent(FunctionModel(script), tools=built.tools)
    result = agent.run_sync("go")
    assert "'content': 'hi'" in result.output
    assert written == ["out/a.txt"] and (tmp_path / "out" / "a.txt").read_text() == "hi"
    failed = [
        p
        for m in result.all_messages()
        for p in getattr(m, "parts", [])
        if isinstance(p, ToolReturnPart) and p.tool_call_id == "c2"
    ]
    assert failed and "'..'" in str(failed[0].content)
