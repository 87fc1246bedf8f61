"""Read-only requests start from the token's claims while the user is re-read (shared/web/app.py).

The re-read still decides every response: these tests change the user after the token was
issued and check that no GET is answered on the strength of the stale claims.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.conftest import ApiClient, TestUser


def _agent(agents_api: ApiClient, owner: TestUser) -> str:
    body = {"name": "private", "model": {"provider": "vertex-gemini", "name": "gemini-2.5-flash"}}
    response = agents_api.post("/agents", token=owner.token, json=body)
    assert response.status_code == 201, response.get_data(as_text=True)
    return str(response.get_json()["id"])


def _set_user(user: TestUser, **fields: Any) -> None:
    from shared.auth.users import update_user

    update_user(user.id, fields)


def test_a_demoted_admin_is_refused_on_reads_its_token_would_allow(
    agents_api: ApiClient, make_user: Callable[..., TestUser], user: TestUser
) -> None:
    admin = make_user("admin")
    agent_id = _agent(agents_api, user)
    assert agents_api.get(f"/agents/{agent_id}", token=admin.token).status_code == 200  # admins may read
    _set_user(admin, role="user")
    # The token still says admin; the re-read says user: the request is handled again as a user.
    response = agents_api.get(f"/agents/{agent_id}", token=admin.token)
    assert response.status_code == 404, response.get_data(as_text=True)


def test_a_deactivated_user_gets_401_even_where_the_handler_would_fail(
    agents_api: ApiClient, user: TestUser
) -> None:
    agent_id = _agent(agents_api, user)
    _set_user(user, is_active=False)
    for path in (f"/agents/{agent_id}", "/agents/does-not-exist", "/agents"):
        response = agents_api.get(path, token=user.token)
        assert response.status_code == 401, (path, response.get_data(as_text=True))


def test_the_re_read_is_counted_in_the_request_cost(agents_api: ApiClient, user: TestUser) -> None:
    agent_id = _agent(agents_api, user)
    response = agents_api.get(f"/agents/{agent_id}", token=user.token)
    assert response.status_code == 200
    # The user (re-read on another thread) and the agent.
    assert response.headers["X-Firestore-Reads"] == "2"
