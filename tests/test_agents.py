"""The agents function over HTTP against the Firestore emulator (issue 4)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.conftest import ApiClient, TestUser


def definition(name: str = "code-reviewer", **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": name,
        "display_name": "Code reviewer",
        "description": "Reviews code",
        "model": {
            "provider": "vertex-gemini",
            "name": "gemini-2.5-flash",
            "temperature": 0.1,
            "max_tokens": 2048,
        },
        "system_prompt": "You review code.",
        "tools": [{"name": "grep", "enabled": True, "config": {}}],
        "output_schema": None,
        "delegates": [],
        "limits": {"max_requests": 20, "max_tool_calls": 50, "max_cost_usd": 0.5},
        "metadata": {"team": "core"},
    }
    base.update(overrides)
    return base


def create(api: ApiClient, user: TestUser, body: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    response = api.post("/agents", token=user.token, json=body or definition(), **kw)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def field_errors(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 422, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"]["code"] == "validation_error"
    return body["error"]["details"]["fields"]


def locs(response: Any) -> set[str]:
    return {f["loc"] for f in field_errors(response)}


def agent_count(api: ApiClient, user: TestUser) -> int:
    return len(api.get("/agents?limit=100", token=user.token).get_json()["items"])


# -- create / read -----------------------------------------------------------------------


def test_create_returns_agent_object_at_version_1(agents_api: ApiClient, user: TestUser) -> None:
    response = agents_api.post("/agents", token=user.token, json=definition())
    assert response.status_code == 201
    agent = response.get_json()
    assert agent["owner_id"] == user.id and agent["version"] == 1 and agent["source"] is None
    assert agent["name"] == "code-reviewer" and agent["model"]["name"] == "gemini-2.5-flash"
    assert agent["tools"] == [{"name": "grep", "enabled": True, "config": {}}]
    assert agent["metadata"] == {"team": "core"} and agent["kind"] == "agent"
    assert agent["created_at"] == agent["updated_at"]
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"] == f"/agents/{agent['id']}"

    fetched = agents_api.get(f"/agents/{agent['id']}", token=user.token)
    assert fetched.status_code == 200 and fetched.get_json() == agent
    assert fetched.headers["ETag"] == '"1"'


def test_create_requires_auth(agents_api: ApiClient) -> None:
    assert agents_api.post("/agents", json=definition()).status_code == 401
    assert agents_api.get("/agents").status_code == 401


def test_idempotency_key_returns_first_agent(agents_api: ApiClient, user: TestUser) -> None:
    headers = {"Idempotency-Key": "create-once-1"}
    first = create(agents_api, user, headers=headers)
    again = create(agents_api, user, headers=headers)
    assert again == first
    assert agent_count(agents_api, user) == 1
    # The same key with a different body is a conflict, not a silent replay.
    other = agents_api.post("/agents", token=user.token, json=definition("other"), headers=headers)
    assert other.status_code == 409 and other.get_json()["error"]["code"] == "idempotency_key_reused"
    # A different key creates a second agent (names are unique per owner: another name).
    create(agents_api, user, definition("second"), headers={"Idempotency-Key": "create-once-2"})
    assert agent_count(agents_api, user) == 2


def test_concurrent_retries_with_one_key_create_one_agent(agents_api: ApiClient, user: TestUser) -> None:
    results: list[tuple[int, str | None]] = []

    def post() -> None:
        response = agents_api.post(
            "/agents", token=user.token, json=definition(), headers={"Idempotency-Key": "racing"}
        )
        body = response.get_json()
        results.append((response.status_code, body.get("id") if response.status_code == 201 else None))

    threads = [threading.Thread(target=post) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = {agent_id for status, agent_id in results if status == 201}
    assert len(ids) == 1, results
    assert agent_count(agents_api, user) == 1


def test_agent_names_are_unique_per_owner(
    agents_api: ApiClient, user: TestUser, other_user: TestUser
) -> None:
    first = create(agents_api, user)
    clash = agents_api.post("/agents", token=user.token, json=definition())
    assert clash.status_code == 409 and clash.get_json()["error"]["code"] == "name_taken"
    assert clash.get_json()["error"]["details"] == {"name": "code-reviewer", "agent_id": first["id"]}
    assert agent_count(agents_api, user) == 1  # nothing written
    create(agents_api, other_user)  # another owner may use the name
    # Renaming onto a taken name is refused (the agent stays at its version); renaming frees the old name.
    second = create(agents_api, user, definition("second"))
    refused = agents_api.put(f"/agents/{second['id']}", token=user.token, json=definition())
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "name_taken"
    assert agents_api.get(f"/agents/{second['id']}", token=user.token).get_json()["version"] == 1
    renamed = agents_api.put(f"/agents/{first['id']}", token=user.token, json=definition("renamed"))
    assert renamed.status_code == 200
    assert agents_api.put(f"/agents/{second['id']}", token=user.token, json=definition()).status_code == 200
    # Keeping one's own name on an update is no clash; deleting an agent frees its name at once.
    assert agents_api.put(f"/agents/{second['id']}", token=user.token, json=definition()).status_code == 200
    assert agents_api.delete(f"/agents/{second['id']}", token=user.token).status_code == 204
    create(agents_api, user, definition())


def test_concurrent_creates_of_one_name_make_one_agent(agents_api: ApiClient, user: TestUser) -> None:
    statuses: list[int] = []

    def post(key: str | None) -> None:
        headers = {"Idempotency-Key": key} if key else {}
        statuses.append(
            agents_api.post("/agents", token=user.token, json=definition(), headers=headers).status_code
        )

    # Different (or no) idempotency keys: distinct requests racing for one name.
    threads = [threading.Thread(target=post, args=(key,)) for key in (None, None, "k1", "k2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201, 409, 409, 409], statuses
    assert agent_count(agents_api, user) == 1


def test_idempotency_keys_are_per_user(agents_api: ApiClient, user: TestUser, other_user: TestUser) -> None:
    headers = {"Idempotency-Key": "shared-key"}
    mine = create(agents_api, user, headers=headers)
    theirs = create(agents_api, other_user, headers=headers)
    assert mine["id"] != theirs["id"] and theirs["owner_id"] == other_user.id


# -- update / versions -------------------------------------------------------------------


def test_put_creates_new_version_and_keeps_old(agents_api: ApiClient, user: TestUser) -> None:
    agent = create(agents_api, user)
    changed = definition(system_prompt="Be terse.")
    response = agents_api.put(f"/agents/{agent['id']}", token=user.token, json=changed)
    assert response.status_code == 200
    updated = response.get_json()
    assert updated["version"] == 2 and updated["system_prompt"] == "Be terse."
    assert updated["created_at"] == agent["created_at"] and updated["updated_at"] >= agent["updated_at"]
    assert response.headers["ETag"] == '"2"'
    assert agents_api.get(f"/agents/{agent['id']}", token=user.token).get_json()["version"] == 2

    versions = agents_api.get(f"/agents/{agent['id']}/versions", token=user.token).get_json()
    assert [v["version"] for v in versions["items"]] == [2, 1]
    assert versions["items"][1]["system_prompt"] == "You review code." and versions["next_cursor"] is None
    one = agents_api.get(f"/agents/{agent['id']}/versions/1", token=user.token)
    assert one.status_code == 200 and one.get_json()["system_prompt"] == "You review code."
    assert agents_api.get(f"/agents/{agent['id']}/versions/3", token=user.token).status_code == 404
    assert agents_api.get(f"/agents/{agent['id']}/versions/x", token=user.token).status_code == 404


@pytest.mark.parametrize("if_match", ["1", '"1"', 'W/"1"'])
def test_if_match_current_version_succeeds(agents_api: ApiClient, user: TestUser, if_match: str) -> None:
    agent = create(agents_api, user)
    response = agents_api.put(
        f"/agents/{agent['id']}", token=user.token, json=definition(), headers={"If-Match": if_match}
    )
    assert response.status_code == 200 and response.get_json()["version"] == 2


def test_if_match_stale_version_conflicts_and_writes_nothing(agents_api: ApiClient, user: TestUser) -> None:
    agent = create(agents_api, user)
    agents_api.put(f"/agents/{agent['id']}", token=user.token, json=definition(description="v2"))
    stale = agents_api.put(
        f"/agents/{agent['id']}",
        token=user.token,
        json=definition(description="v3"),
        headers={"If-Match": '"1"'},
    )
    assert stale.status_code == 409
    error = stale.get_json()["error"]
    assert error["code"] == "version_mismatch" and error["details"]["current_version"] == 2
    current = agents_api.get(f"/agents/{agent['id']}", token=user.token).get_json()
    assert current["version"] == 2 and current["description"] == "v2"
    versions = agents_api.get(f"/agents/{agent['id']}/versions", token=user.token).get_json()["items"]
    assert len(versions) == 2
    bad = agents_api.put(
        f"/agents/{agent['id']}", token=user.token, json=definition(), headers={"If-Match": "banana"}
    )
    assert bad.status_code == 400
    stale_delete = agents_api.delete(f"/agents/{agent['id']}", token=user.token, headers={"If-Match": "1"})
    assert stale_delete.status_code == 409


def test_concurrent_puts_never_lose_a_version(agents_api: ApiClient, user: TestUser) -> None:
    agent = create(agents_api, user)
    statuses: list[int] = []

    def put(n: int) -> None:
        response = agents_api.put(
            f"/agents/{agent['id']}", token=user.token, json=definition(description=f"writer {n}")
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=put, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    succeeded = statuses.count(200)
    assert succeeded >= 1 and all(s in (200, 409, 503) for s in statuses), statuses
    versions = agents_api.get(f"/agents/{agent['id']}/versions", token=user.token).get_json()["items"]
    assert [v["version"] for v in versions] == list(range(succeeded + 1, 0, -1))
    described = sorted(v["description"] for v in versions if v["version"] > 1)
    assert len(set(described)) == succeeded
    assert agents_api.get(f"/agents/{agent['id']}", token=user.token).get_json()["version"] == succeeded + 1


# -- delete ------------------------------------------------------------------------------


def test_delete_is_soft_and_hides_the_agent(agents_api: ApiClient, user: TestUser) -> None:
    from shared.agents.repository import get_agent_version

    agent = create(agents_api, user)
    response = agents_api.delete(f"/agents/{agent['id']}", token=user.token)
    assert response.status_code == 204 and response.get_data() == b""
    assert agents_api.get(f"/agents/{agent['id']}", token=user.token).status_code == 404
    assert agents_api.get(f"/agents/{agent['id']}/versions", token=user.token).status_code == 404
    assert agents_api.put(f"/agents/{agent['id']}", token=user.token, json=definition()).status_code == 404
    assert agents_api.delete(f"/agents/{agent['id']}", token=user.token).status_code == 404
    assert agent_count(agents_api, user) == 0
    # Runs pin versions and marketplace snapshots read them: they survive the delete.
    kept = get_agent_version(agent["id"], 1)
    assert kept.definition.name == "code-reviewer" and kept.owner_id == user.id


# -- ownership ---------------------------------------------------------------------------


def test_others_agents_are_404(agents_api: ApiClient, user: TestUser, other_user: TestUser) -> None:
    agent = create(agents_api, user)
    path = f"/agents/{agent['id']}"
    missing = agents_api.get("/agents/does-not-exist", token=other_user.token)
    for response in (
        agents_api.get(path, token=other_user.token),
        agents_api.put(path, token=other_user.token, json=definition()),
        agents_api.delete(path, token=other_user.token),
        agents_api.get(f"{path}/versions", token=other_user.token),
        agents_api.get(f"{path}/versions/1", token=other_user.token),
    ):
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == missing.get_json()["error"]["code"] == "not_found"
    assert agent_count(agents_api, other_user) == 0
    assert agents_api.get(path, token=user.token).get_json()["version"] == 1


def test_admin_may_read_but_not_change_others_agents(
    agents_api: ApiClient, user: TestUser, admin: TestUser
) -> None:
    agent = create(agents_api, user)
    path = f"/agents/{agent['id']}"
    assert agents_api.get(path, token=admin.token).get_json()["id"] == agent["id"]
    assert agents_api.get(f"{path}/versions", token=admin.token).status_code == 200
    assert agents_api.put(path, token=admin.token, json=definition()).status_code == 403
    # 403 even for a definition the admin could not validate (delegates they cannot run).
    theirs = definition(delegates=[agent["id"]])
    assert agents_api.put(path, token=admin.token, json=theirs).status_code == 403
    assert agents_api.delete(path, token=admin.token).status_code == 403
    assert agents_api.get(path, token=user.token).get_json()["version"] == 1


def test_runnable_agent_is_owner_only(agents_api: ApiClient, user: TestUser, admin: TestUser) -> None:
    from shared.agents.repository import runnable_agent
    from shared.auth.principal import Principal
    from shared.errors import NotFound

    agent = create(agents_api, user)
    owner = Principal(user_id=user.id, username=user.username, role="user")
    assert runnable_agent(agent["id"], owner).version == 1
    with pytest.raises(NotFound):
        runnable_agent(agent["id"], Principal(user_id=admin.id, username=admin.username, role="admin"))


# -- pagination --------------------------------------------------------------------------


def test_pagination_across_45_agents(agents_api: ApiClient, user: TestUser, other_user: TestUser) -> None:
    from shared.agents.definition import AgentDefinition
    from shared.agents.repository import create_agent

    template = AgentDefinition.model_validate(definition())
    created = {
        create_agent(user.id, template.model_copy(update={"name": f"agent-{i}"})).id for i in range(45)
    }
    create_agent(other_user.id, template)  # someone else's: never listed
    seen: list[str] = []
    pages = 0
    cursor: str | None = None
    while True:
        query = "/agents?limit=10" + (f"&cursor={cursor}" if cursor else "")
        response = agents_api.get(query, token=user.token)
        assert response.status_code == 200
        page = response.get_json()
        pages += 1
        seen.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert len(page["items"]) == 10
    assert pages == 5
    assert len(seen) == len(set(seen)) == 45 and set(seen) == created
    listed = agents_api.get("/agents?limit=100", token=user.token).get_json()["items"]
    stamps = [a["created_at"] for a in listed]
    assert stamps == sorted(stamps, reverse=True)


def test_versions_pagination(agents_api: ApiClient, user: TestUser) -> None:
    agent = create(agents_api, user)
    for n in range(6):
        agents_api.put(f"/agents/{agent['id']}", token=user.token, json=definition(description=str(n)))
    seen: list[int] = []
    cursor = None
    while True:
        path = f"/agents/{agent['id']}/versions?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = agents_api.get(path, token=user.token).get_json()
        seen.extend(v["version"] for v in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [7, 6, 5, 4, 3, 2, 1]


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "cursor=%%%", "cursor=bm90LWpzb24", "unknown=1"])
def test_bad_list_queries(agents_api: ApiClient, user: TestUser, query: str) -> None:
    assert agents_api.get(f"/agents?{query}", token=user.token).status_code in (400, 422)


@pytest.mark.parametrize("last_id", ["a/b", "", ".", "..", "x" * 129])
def test_cursor_naming_no_document_is_invalid(agents_api: ApiClient, user: TestUser, last_id: str) -> None:
    from shared.pagination import encode_cursor

    cursor = encode_cursor({"c": "2024-01-01T00:00:00+00:00", "i": last_id})
    response = agents_api.get(f"/agents?cursor={cursor}", token=user.token)
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_cursor"


# -- validation --------------------------------------------------------------------------


def _tools(*refs: dict[str, Any]) -> list[dict[str, Any]]:
    return list(refs)


INVALID: list[tuple[str, dict[str, Any], str]] = [
    ("unknown provider", {"model": {"provider": "openai", "name": "gpt-4o"}}, "model.provider"),
    ("unknown model", {"model": {"provider": "vertex-gemini", "name": "gemini-9"}}, "model.name"),
    (
        "model of other provider",
        {"model": {"provider": "vertex-anthropic", "name": "gemini-2.5-flash"}},
        "model.name",
    ),
    (
        "max_tokens over model cap",
        {"model": {"provider": "vertex-anthropic", "name": "claude-opus-4-1", "max_tokens": 40000}},
        "model.max_tokens",
    ),
    ("retired model", {"model": {"provider": "vertex-gemini", "name": "gemini-2.0-flash"}}, "model.name"),
    (
        "claude 4.5 with temperature and top_p",
        {
            "model": {
                "provider": "vertex-anthropic",
                "name": "claude-sonnet-4-5",
                "temperature": 0.5,
                "top_p": 0.9,
            }
        },
        "model.top_p",
    ),
    (
        "claude 4.7 takes no temperature",
        {"model": {"provider": "vertex-anthropic", "name": "claude-opus-4-7", "temperature": 0.5}},
        "model.temperature",
    ),
    (
        "thinking off on a model that always thinks",
        {"model": {"provider": "vertex-gemini", "name": "gemini-2.5-pro", "thinking": {"effort": "off"}}},
        "model.thinking.effort",
    ),
    (
        "thinking effort the model lacks",
        {"model": {"provider": "vertex-gemini", "name": "gemini-4-argon", "thinking": {"effort": "minimal"}}},
        "model.thinking.effort",
    ),
    (
        "thinking budget on a thinking-level model",
        {
            "model": {
                "provider": "vertex-gemini",
                "name": "gemini-3.1-pro-preview",
                "thinking": {"budget_tokens": 2048},
            }
        },
        "model.thinking.budget_tokens",
    ),
    (
        "thinking budget out of the model's range",
        {
            "model": {
                "provider": "vertex-gemini",
                "name": "gemini-2.5-flash",
                "thinking": {"budget_tokens": 30000},
            }
        },
        "model.thinking.budget_tokens",
    ),
    (
        "claude thinking budget not below max_tokens",
        {
            "model": {
                "provider": "vertex-anthropic",
                "name": "claude-sonnet-4-5",
                "max_tokens": 2000,
                "thinking": {"budget_tokens": 4000},
            }
        },
        "model.thinking.budget_tokens",
    ),
    (
        "claude thinking with a temperature",
        {
            "model": {
                "provider": "vertex-anthropic",
                "name": "claude-haiku-4-5",
                "temperature": 0.2,
                "thinking": {"effort": "low"},
            }
        },
        "model.temperature",
    ),
    (
        "thinking with effort and budget",
        {
            "model": {
                "provider": "vertex-gemini",
                "name": "gemini-2.5-flash",
                "thinking": {"effort": "low", "budget_tokens": 1000},
            }
        },
        "model.thinking",
    ),
    (
        "temperature over Claude's range",
        {"model": {"provider": "vertex-anthropic", "name": "claude-haiku-4-5", "temperature": 1.5}},
        "model.temperature",
    ),
    (
        "temperature out of range",
        {"model": {"provider": "vertex-gemini", "name": "gemini-2.5-flash", "temperature": 3}},
        "model.temperature",
    ),
    ("missing model", {"model": None}, "body"),
    ("unknown tool", {"tools": _tools({"name": "grep"}, {"name": "shell"})}, "tools[1].name"),
    (
        "bad tool config type",
        {"tools": _tools({"name": "file_read", "config": {"max_bytes": "lots"}})},
        "tools[0].config.max_bytes",
    ),
    (
        "tool config out of range",
        {"tools": _tools({"name": "grep"}, {"name": "file_read", "config": {"max_bytes": 0}})},
        "tools[1].config.max_bytes",
    ),
    (
        "unknown tool config key",
        {"tools": _tools({"name": "find", "config": {"depth": 3}})},
        "tools[0].config.depth",
    ),
    (
        "web_search restriction unsupported on Gemini",
        {"tools": _tools({"name": "web_search", "config": {"allowed_domains": ["example.com"]}})},
        "tools[0].config.allowed_domains",
    ),
    ("schema not a JSON Schema", {"output_schema": {"type": "banana"}}, "output_schema"),
    (
        "schema with bad keyword value",
        {"output_schema": {"type": "object", "required": "x"}},
        "output_schema",
    ),
    ("schema not an object schema", {"output_schema": {"type": "string"}}, "output_schema"),
    ("unknown delegate", {"delegates": ["no-such-agent"]}, "delegates[0]"),
    ("limits out of range", {"limits": {"max_requests": 0}}, "limits.max_requests"),
    ("limits cost out of range", {"limits": {"max_cost_usd": -1}}, "limits.max_cost_usd"),
    ("bad name", {"name": "Has Spaces"}, "name"),
    ("unknown field", {"colour": "red"}, "colour"),
]


@pytest.mark.parametrize(("case", "overrides", "loc"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_definitions_are_422_naming_the_field(
    agents_api: ApiClient, user: TestUser, case: str, overrides: dict[str, Any], loc: str
) -> None:
    response = agents_api.post("/agents", token=user.token, json=definition(**overrides))
    assert loc in locs(response), field_errors(response)
    assert agent_count(agents_api, user) == 0
    # The same definition is refused by PUT too, and the stored agent is unchanged.
    agent = create(agents_api, user)
    put = agents_api.put(f"/agents/{agent['id']}", token=user.token, json=definition(**overrides))
    assert loc in locs(put)
    assert agents_api.get(f"/agents/{agent['id']}", token=user.token).get_json()["version"] == 1


def test_valid_output_schema_and_claude_web_search(agents_api: ApiClient, user: TestUser) -> None:
    body = definition(
        model={"provider": "vertex-anthropic", "name": "claude-sonnet-4-5", "temperature": 0.5},
        tools=[{"name": "web_search", "config": {"allowed_domains": ["python.org"], "max_uses": 3}}],
        output_schema={
            "type": "object",
            "properties": {"summary": {"type": "string"}},
            "required": ["summary"],
        },
    )
    agent = create(agents_api, user, body)
    assert agent["output_schema"]["required"] == ["summary"]
    assert agent["tools"][0]["config"] == {"allowed_domains": ["python.org"], "max_uses": 3}


def test_every_error_is_reported_at_once(agents_api: ApiClient, user: TestUser) -> None:
    body = definition(
        model={"provider": "vertex-gemini", "name": "nope"},
        tools=[{"name": "shell"}],
        output_schema={"type": "string"},
        delegates=["missing"],
    )
    assert {"model.name", "tools[0].name", "output_schema", "delegates[0]"} <= locs(
        agents_api.post("/agents", token=user.token, json=body)
    )


def test_structural_and_semantic_errors_come_in_one_422(agents_api: ApiClient, user: TestUser) -> None:
    body = definition(
        name="Code Reviewer!",  # structural: the name rule, explained in words
        model={"provider": "vertex-gemini", "name": "nope"},  # semantic: not in the catalog
        tools=[{"name": "grep", "enabled": "sometimes"}, {"name": "shell"}],  # structural, semantic
        output_schema={"type": "string"},  # semantic
        limits={"max_requests": 0},  # structural
    )
    for response in (
        agents_api.post("/agents", token=user.token, json=body),
        agents_api.put(f"/agents/{create(agents_api, user)['id']}", token=user.token, json=body),
    ):
        errors = {f["loc"]: f["message"] for f in field_errors(response)}
        assert {
            "name",
            "model.name",
            "tools[0].enabled",
            "tools[1].name",
            "output_schema",
            "limits.max_requests",
        } <= set(errors), errors
        assert errors["name"].startswith("a name is 1 to 63 characters: lowercase letters a-z, digits")
    assert agent_count(agents_api, user) == 1


def test_delegates_must_be_runnable_by_caller(
    agents_api: ApiClient, user: TestUser, other_user: TestUser
) -> None:
    theirs = create(agents_api, other_user)
    mine = create(agents_api, user, definition("helper"))
    deleted = create(agents_api, user, definition("gone"))
    agents_api.delete(f"/agents/{deleted['id']}", token=user.token)

    ok = agents_api.post("/agents", token=user.token, json=definition("router", delegates=[mine["id"]]))
    assert ok.status_code == 201 and ok.get_json()["delegates"] == [mine["id"]]
    for delegate in (theirs["id"], deleted["id"]):
        response = agents_api.post(
            "/agents", token=user.token, json=definition("router", delegates=[mine["id"], delegate])
        )
        errors = field_errors(response)
        assert [e["loc"] for e in errors] == ["delegates[1]"]
        assert errors[0]["message"] == f"agent '{delegate}' not found or not runnable by you"


def test_delegate_cycles_are_refused(agents_api: ApiClient, user: TestUser) -> None:
    a = create(agents_api, user, definition("a"))
    b = create(agents_api, user, definition("b", delegates=[a["id"]]))
    c = create(agents_api, user, definition("c", delegates=[b["id"]]))
    # a -> c -> b -> a
    response = agents_api.put(
        f"/agents/{a['id']}", token=user.token, json=definition("a", delegates=[c["id"]])
    )
    errors = field_errors(response)
    assert errors[0]["loc"] == "delegates[0]" and errors[0]["type"] == "cycle"
    # a -> a
    self_loop = agents_api.put(
        f"/agents/{a['id']}", token=user.token, json=definition("a", delegates=[a["id"]])
    )
    assert locs(self_loop) == {"delegates[0]"}
    # No cycle: a -> fresh is fine.
    fresh = create(agents_api, user, definition("fresh"))
    fine = agents_api.put(
        f"/agents/{a['id']}", token=user.token, json=definition("a", delegates=[fresh["id"]])
    )
    assert fine.status_code == 200


def test_workflow_definitions(agents_api: ApiClient, user: TestUser, other_user: TestUser) -> None:
    step_agent = create(agents_api, user, definition("step"))
    theirs = create(agents_api, other_user, definition("theirs"))

    def workflow(*agent_ids: str, **extra: Any) -> dict[str, Any]:
        steps = [{"agent_id": a, "input_template": "{{input}}"} for a in agent_ids]
        body = definition("flow", kind="workflow", model=None, tools=[], workflow={"steps": steps})
        body.update(extra)
        return body

    flow = create(agents_api, user, workflow(step_agent["id"], step_agent["id"]))
    assert flow["kind"] == "workflow" and len(flow["workflow"]["steps"]) == 2
    bad = agents_api.post("/agents", token=user.token, json=workflow(step_agent["id"], theirs["id"]))
    assert locs(bad) == {"workflow.steps[1].agent_id"}
    missing = agents_api.post("/agents", token=user.token, json=workflow("nope"))
    assert locs(missing) == {"workflow.steps[0].agent_id"}
    with_tools = agents_api.post(
        "/agents", token=user.token, json=workflow(step_agent["id"], tools=[{"name": "grep"}])
    )
    assert "tools" in locs(with_tools)
    # step -> flow while flow runs step: a cycle through a workflow.
    cyc = agents_api.put(
        f"/agents/{step_agent['id']}", token=user.token, json=definition("step", delegates=[flow["id"]])
    )
    assert locs(cyc) == {"delegates[0]"}
    self_step = agents_api.put(f"/agents/{flow['id']}", token=user.token, json=workflow(flow["id"]))
    assert locs(self_step) == {"workflow.steps[0].agent_id"}


def test_malformed_bodies(agents_api: ApiClient, user: TestUser) -> None:
    raw = agents_api.post(
        "/agents", token=user.token, data="{not json", headers={"Content-Type": "application/json"}
    )
    assert raw.status_code == 400
    assert agents_api.post("/agents", token=user.token, json=[1, 2]).status_code == 422
    big = definition(system_prompt="x" * (1024 * 1024 + 10))
    assert agents_api.post("/agents", token=user.token, json=big).status_code == 413
    assert agent_count(agents_api, user) == 0
