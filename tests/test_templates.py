"""Built-in templates: validated like user definitions, listed, and creating agents that run (issue 12)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import ApiClient, TestUser
from tests.test_runs import ok_run

REQUIRED = {"code-reviewer", "summarizer", "researcher", "router"}


def test_every_template_passes_the_definition_validation() -> None:
    from shared.agents.validation import definition_errors
    from shared.auth.principal import Principal
    from shared.templates.catalog import TEMPLATE_DIR, list_templates

    templates = list_templates()
    assert {t.name for t in templates} >= REQUIRED
    assert len(templates) == len(list(TEMPLATE_DIR.glob("*.yaml")))
    principal = Principal(user_id="template-check", username="template-check", role="user")
    for template in templates:
        assert definition_errors(template.definition, principal) == [], template.name
    by_name = {t.name: t for t in templates}
    assert by_name["summarizer"].definition.output_schema is not None
    assert [t.name for t in by_name["researcher"].definition.tools] == ["web_search"]
    assert {"grep", "find"} <= {t.name for t in by_name["code-reviewer"].definition.tools}
    assert by_name["router"].delegate_templates == ["code-reviewer", "summarizer"]


def test_list_and_get_templates(agents_api: ApiClient) -> None:
    listed = agents_api.get("/templates")
    assert listed.status_code == 200
    names = [t["name"] for t in listed.get_json()]
    assert set(names) >= REQUIRED
    one = agents_api.get("/templates/summarizer").get_json()
    assert one["definition"]["output_schema"]["required"] == ["title", "summary", "key_points"]
    assert one["description"] and one["delegate_templates"] == []
    assert agents_api.get("/templates/nope").status_code == 404


def _create(agents_api: ApiClient, user: TestUser, body: dict[str, Any], **kw: Any) -> dict[str, Any]:
    response = agents_api.post("/agents", token=user.token, json=body, **kw)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def test_code_reviewer_from_template_greps_the_workspace(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser
) -> None:
    agent = _create(agents_api, user, {"template": "code-reviewer", "name": "my-reviewer"})
    assert agent["name"] == "my-reviewer" and agent["display_name"] == "Code reviewer"
    assert agent["metadata"] == {"template": "code-reviewer"} and agent["version"] == 1
    put = agents_api.put("/workspace/files/app.py", token=user.token, data=b"x = 1  # FIXME later\n")
    assert put.status_code == 201
    run = ok_run(runs_api, user, agent["id"], 'review\ncall grep {"pattern": "FIXME"}')
    assert run["status"] == "succeeded" and "FIXME later" in run["output"]


def test_summarizer_from_template_returns_its_schema(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser
) -> None:
    agent = _create(agents_api, user, {"template": "summarizer"})
    assert agent["name"] == "summarizer"
    run = ok_run(runs_api, user, agent["id"], "A long text about templates.")
    assert run["status"] == "succeeded", run
    assert set(run["output"]) == {"title", "summary", "key_points"}
    given = {"title": "T", "summary": "S", "key_points": ["a"]}
    run = ok_run(runs_api, user, agent["id"], "text\noutput " + json.dumps(given))
    assert run["output"] == given


def test_researcher_from_template_runs(agents_api: ApiClient, runs_api: ApiClient, user: TestUser) -> None:
    agent = _create(agents_api, user, {"template": "researcher", "name": "scout"})
    assert [t["name"] for t in agent["tools"]] == ["web_search"]
    run = ok_run(runs_api, user, agent["id"], "say Sources: example.org")
    assert run["status"] == "succeeded", run
    assert run["output"] == "Sources: example.org"


def test_router_from_template_creates_its_delegates_and_delegates(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, other_user: TestUser
) -> None:
    router = _create(
        agents_api, user, {"template": "router", "name": "desk"}, headers={"Idempotency-Key": "k1"}
    )
    mine = agents_api.get("/agents", token=user.token).get_json()["items"]
    by_id = {a["id"]: a for a in mine}
    assert len(mine) == 3 and len(router["delegates"]) == 2
    assert [by_id[d]["name"] for d in router["delegates"]] == ["desk-code-reviewer", "desk-summarizer"]
    assert all(by_id[d]["owner_id"] == user.id for d in router["delegates"])

    # A retry with the same key returns the same agents; nothing is duplicated.
    again = _create(
        agents_api, user, {"template": "router", "name": "desk"}, headers={"Idempotency-Key": "k1"}
    )
    assert again["id"] == router["id"] and again["delegates"] == router["delegates"]
    assert len(agents_api.get("/agents", token=user.token).get_json()["items"]) == 3
    assert agents_api.get("/agents", token=other_user.token).get_json()["items"] == []

    run = ok_run(
        runs_api,
        user,
        router["id"],
        'summarize this\ncall delegate_desk-summarizer {"input": "some long text"}',
    )
    assert run["status"] == "succeeded", run
    assert "delegate_desk-summarizer returned" in run["output"] and "key_points" in run["output"]
    assert run["usage"]["requests"] >= 3  # the router twice + the summarizer's own request


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"template": "nope"}, "template"),
        ({"template": "summarizer", "name": "Bad Name"}, "name"),
        ({"template": "summarizer", "model": {"provider": "vertex-gemini", "name": "x"}}, "model"),
    ],
)
def test_bad_template_requests_write_nothing(
    agents_api: ApiClient, user: TestUser, body: dict[str, Any], loc: str
) -> None:
    response = agents_api.post("/agents", token=user.token, json=body)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert [f["loc"] for f in response.get_json()["error"]["details"]["fields"]] == [loc]
    assert agents_api.get("/agents", token=user.token).get_json()["items"] == []


def test_definition_form_still_reports_its_own_fields(agents_api: ApiClient, user: TestUser) -> None:
    response = agents_api.post("/agents", token=user.token, json={"name": "x", "limits": {"max_requests": 0}})
    assert response.status_code == 422
    locs = [f["loc"] for f in response.get_json()["error"]["details"]["fields"]]
    assert "limits.max_requests" in locs and not any(
        loc.startswith(("AgentDefinition", "template")) for loc in locs
    )
