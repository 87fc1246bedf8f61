"""Run artifacts over HTTP: upload → agent greps it → writes a report → artifact download (issue 12)."""

from __future__ import annotations

import hashlib
from typing import Any

from tests.conftest import ApiClient, TestUser
from tests.test_runs import create_agent, ok_run, read_all

REPORT = "# Review\\n\\nFound a TODO in src/app.py: write tests"
REPORT_BYTES = b"# Review\n\nFound a TODO in src/app.py: write tests"

PROMPT = (
    "Review the code in src/ and write a report.\n"
    'call grep {"pattern": "TODO", "path": "src"}\n'
    'call file_write {"path": "reports/review.md", "content": "' + REPORT + '"}'
)


def reviewer(agents_api: ApiClient, user: TestUser) -> str:
    tools = [
        {"name": "grep", "enabled": True, "config": {}},
        {"name": "file_write", "enabled": True, "config": {}},
    ]
    return create_agent(agents_api, user, "reviewer", tools=tools)


def upload(agents_api: ApiClient, user: TestUser, path: str, data: bytes) -> None:
    response = agents_api.put(f"/workspace/files/{path}", token=user.token, data=data)
    assert response.status_code in (200, 201), response.get_data(as_text=True)


def test_upload_grep_report_and_download_the_artifact(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, other_user: TestUser
) -> None:
    upload(agents_api, user, "src/app.py", b"def main():\n    pass  # TODO: write tests\n")
    run = ok_run(runs_api, user, reviewer(agents_api, user), PROMPT)

    assert run["status"] == "succeeded", run
    # The model saw grep's match (the offline model echoes tool results in its answer).
    assert "TODO: write tests" in run["output"] and "src/app.py" in run["output"]
    assert run["artifacts"] == [
        {
            "path": "reports/review.md",
            "size": len(REPORT_BYTES),
            "sha256": hashlib.sha256(REPORT_BYTES).hexdigest(),
        }
    ]
    assert runs_api.get(f"/runs/{run['id']}", token=user.token).get_json()["artifacts"] == run["artifacts"]

    # The report is in the workspace too (what the tools see and the API lists).
    listed = [f["path"] for f in agents_api.get("/workspace/files", token=user.token).get_json()["items"]]
    assert listed == ["reports/review.md", "src/app.py"]

    url = f"/runs/{run['id']}/artifacts/reports/review.md"
    artifact = runs_api.get(url, token=user.token)
    assert artifact.status_code == 200 and artifact.data == REPORT_BYTES
    assert artifact.mimetype == "text/markdown"

    # Overwritten and then deleted in the workspace: the artifact stays as the run left it.
    upload(agents_api, user, "reports/review.md", b"changed later")
    assert runs_api.get(url, token=user.token).data == REPORT_BYTES
    assert agents_api.delete("/workspace/files/reports/review.md", token=user.token).status_code == 204
    assert runs_api.get(url, token=user.token).data == REPORT_BYTES

    # Owner only; only recorded paths; no escaping the store.
    assert runs_api.get(url, token=other_user.token).status_code == 404
    assert runs_api.get(url).status_code == 401
    assert runs_api.get(f"/runs/{run['id']}/artifacts/src/app.py", token=user.token).status_code == 404
    assert runs_api.get(f"/runs/{run['id']}/artifacts/..%2F..%2Fx", token=user.token).status_code == 422
    assert runs_api.get("/runs/nope/artifacts/reports/review.md", token=user.token).status_code == 404


def test_artifacts_of_a_streamed_run_and_of_a_failed_run(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser
) -> None:
    agent_id = reviewer(agents_api, user)
    upload(agents_api, user, "src/app.py", b"# TODO: write tests\n")
    response = runs_api.post(
        "/runs", token=user.token, json={"agent_id": agent_id, "input": PROMPT, "mode": "stream"}
    )
    events = read_all(response)
    run = events[-1].data["run"]
    assert events[-1].event == "run.completed"
    assert [a["path"] for a in run["artifacts"]] == ["reports/review.md"]
    assert (
        runs_api.get(f"/runs/{run['id']}/artifacts/reports/review.md", token=user.token).data == REPORT_BYTES
    )

    # A run that writes a file and then fails still records what it wrote.
    failing = PROMPT.replace("Review the code", "fail 400\nReview the code")
    # The failure happens before any tool runs: nothing written, nothing recorded.
    failed = ok_run(runs_api, user, agent_id, failing)
    assert failed["status"] == "failed" and failed["artifacts"] == []
    capped = ok_run(runs_api, user, agent_id, PROMPT, limits={"max_requests": 1})
    assert capped["status"] == "failed" and capped["error"]["code"] == "usage_limit_exceeded"
    assert [a["path"] for a in capped["artifacts"]] == ["reports/review.md"]


def test_runs_without_writes_have_no_artifacts(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser
) -> None:
    run: dict[str, Any] = ok_run(runs_api, user, create_agent(agents_api, user), "hello")
    assert run["artifacts"] == []
    assert runs_api.get(f"/runs/{run['id']}/artifacts/anything.txt", token=user.token).status_code == 404
