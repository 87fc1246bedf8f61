"""``tools.backfill_agent_names``: agents stored before names were unique per owner get their
reservation, so the uniqueness rule holds for them too (#22)."""

from __future__ import annotations

from typing import Any

from tests.conftest import ApiClient, TestUser
from tests.test_agents import definition


def _forget_reservation(owner_id: str, name: str) -> None:
    """What an agent stored before the change looks like: no ``agent_names`` document."""
    from shared import db
    from shared.agents.names import name_ref

    db.delete(name_ref(owner_id, name))


def _create(agents_api: ApiClient, user: TestUser, name: str) -> str:
    response = agents_api.post("/agents", token=user.token, json=definition(name))
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def test_backfill_reserves_old_names_reports_shared_ones_and_can_run_again(
    agents_api: ApiClient, make_user: Any, capsys: Any
) -> None:
    from shared import db
    from shared.agents.names import name_doc, name_ref
    from tools import backfill_agent_names

    user, other = make_user(), make_user()
    old = _create(agents_api, user, "old-agent")
    _forget_reservation(user.id, "old-agent")
    older_twin = _create(agents_api, user, "twin")
    _forget_reservation(user.id, "twin")
    newer_twin = _create(agents_api, user, "twin")  # possible before the rule: both are live
    stale = _create(agents_api, other, "stale-name")
    # A reservation left pointing at an agent that no longer exists.
    db.set(name_ref(other.id, "stale-name"), name_doc(other.id, "stale-name", "gone"))
    _create(agents_api, other, "fine")

    # Before the backfill the old agent's name is free to take again: the gap being closed.
    from shared.agents.names import check_name_free

    check_name_free(user.id, "old-agent")

    assert backfill_agent_names.main([]) == 1  # a shared name is reported: exit 1
    printed = capsys.readouterr().out
    assert "5 live agents: 2 names reserved now, 2 already reserved, 1 shared names" in printed
    assert f"'twin' is held by agent {newer_twin}; agent {older_twin} has the same name" in printed

    taken = agents_api.post("/agents", token=user.token, json=definition("old-agent"))
    assert taken.status_code == 409 and taken.get_json()["error"]["code"] == "name_taken"
    assert taken.get_json()["error"]["details"]["agent_id"] == old
    held = db.get(name_ref(other.id, "stale-name")).to_dict()
    assert held is not None and held["agent_id"] == stale

    assert backfill_agent_names.main([]) == 1
    assert "0 names reserved now, 4 already reserved, 1 shared names" in capsys.readouterr().out


def test_backfill_skips_deleted_agents(agents_api: ApiClient, user: TestUser, capsys: Any) -> None:
    from tools import backfill_agent_names

    agent_id = _create(agents_api, user, "short-lived")
    assert agents_api.delete(f"/agents/{agent_id}", token=user.token).status_code == 204
    assert backfill_agent_names.main([]) == 0
    assert "0 live agents" in capsys.readouterr().out
    assert agents_api.post("/agents", token=user.token, json=definition("short-lived")).status_code == 201
