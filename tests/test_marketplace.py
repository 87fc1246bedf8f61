"""The marketplace function over HTTP against the Firestore emulator (issue 7)."""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.conftest import ApiClient, TestUser


def definition(name: str = "code-reviewer", **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": name,
        "display_name": "Code Reviewer",
        "description": "Reviews pull requests for security problems",
        "model": {
            "provider": "vertex-gemini",
            "name": "gemini-2.5-flash",
            "temperature": 0.1,
            "max_tokens": 2048,
        },
        "system_prompt": "You review code.",
        "tools": [{"name": "grep", "enabled": True, "config": {}}],
        "limits": {"max_requests": 20, "max_tool_calls": 50, "max_cost_usd": 0.5},
        "metadata": {"team": "core"},
    }
    base.update(overrides)
    return base


def create_agent(
    apps: dict[str, ApiClient], user: TestUser, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    response = apps["agents"].post("/agents", token=user.token, json=body or definition())
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def publish(
    apps: dict[str, ApiClient],
    user: TestUser,
    agent_id: str,
    *,
    category: str = "coding",
    tags: list[str] | None = None,
    summary: str | None = None,
    status: int = 201,
) -> dict[str, Any]:
    body: dict[str, Any] = {"agent_id": agent_id, "category": category, "tags": tags or []}
    if summary is not None:
        body["summary"] = summary
    response = apps["marketplace"].post("/marketplace/listings", token=user.token, json=body)
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


def search(apps: dict[str, ApiClient], query: str = "", **params: Any) -> list[dict[str, Any]]:
    response = apps["marketplace"].get("/marketplace/listings" + query, query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["items"]


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


def install(apps: dict[str, ApiClient], user: TestUser, listing_id: str) -> dict[str, Any]:
    response = apps["marketplace"].post(f"/marketplace/listings/{listing_id}/install", token=user.token)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def rate(
    apps: dict[str, ApiClient], user: TestUser, listing_id: str, stars: int, review: str | None = None
) -> Any:
    body: dict[str, Any] = {"stars": stars}
    if review is not None:
        body["review"] = review
    return apps["marketplace"].put(
        f"/marketplace/listings/{listing_id}/ratings/me", token=user.token, json=body
    )


def error_code(response: Any, status: int) -> str:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert "Traceback" not in response.get_data(as_text=True)
    return body["error"]["code"]


# -- publish --------------------------------------------------------------------------------


def test_publish_creates_listing_from_current_version(apps: dict[str, ApiClient], user: TestUser) -> None:
    agent = create_agent(apps, user)
    listing = publish(apps, user, agent["id"], tags=["Security", "review"], summary="Finds bugs")
    assert listing["agent_id"] == agent["id"]
    assert listing["owner_id"] == user.id and listing["owner_username"] == user.username
    assert listing["name"] == "code-reviewer" and listing["display_name"] == "Code Reviewer"
    assert listing["tags"] == ["security", "review"]
    assert listing["version"] == 1 and listing["category"] == "coding"
    assert listing["stats"]["installs"] == 0 and listing["stats"]["rating_avg"] is None
    assert "search_keys" not in listing and "definition" not in listing
    detail = apps["marketplace"].get(f"/marketplace/listings/{listing['id']}").get_json()
    assert detail["definition"]["system_prompt"] == "You review code."


def test_publish_needs_ownership_and_valid_fields(
    apps: dict[str, ApiClient], user: TestUser, other_user: TestUser, admin: TestUser
) -> None:
    agent = create_agent(apps, user)
    market = apps["marketplace"]
    body = {"agent_id": agent["id"], "category": "coding", "tags": []}
    assert market.post("/marketplace/listings", json=body).status_code == 401
    assert (
        error_code(market.post("/marketplace/listings", token=other_user.token, json=body), 404)
        == "not_found"
    )
    assert error_code(market.post("/marketplace/listings", token=admin.token, json=body), 403) == "forbidden"
    bad = market.post("/marketplace/listings", token=user.token, json={**body, "category": "nope"})
    assert error_code(bad, 422) == "validation_error"
    bad = market.post("/marketplace/listings", token=user.token, json={**body, "tags": ["no spaces"]})
    assert error_code(bad, 422) == "validation_error"
    assert search(apps) == []


def test_agents_calling_private_agents_cannot_be_published(
    apps: dict[str, ApiClient], user: TestUser
) -> None:
    helper = create_agent(apps, user, definition("helper"))
    router = create_agent(apps, user, definition("router", delegates=[helper["id"]]))
    response = apps["marketplace"].post(
        "/marketplace/listings",
        token=user.token,
        json={"agent_id": router["id"], "category": "other", "tags": []},
    )
    assert error_code(response, 422) == "validation_error"
    assert search(apps) == []


def test_private_metadata_never_reaches_a_listing(
    apps: dict[str, ApiClient], user: TestUser, other_user: TestUser
) -> None:
    metadata = {
        "team": "core",
        "private": {"notes": "internal"},
        "_internal_id": 7,
        "api_key": "sk-live-123",
        "nested": {"OAuthToken": "t0k3n", "keep": True, "_hidden": 1},
        "links": [{"password": "hunter2", "url": "https://example.com"}],
    }
    agent = create_agent(apps, user, definition(metadata=metadata))
    listing = publish(apps, user, agent["id"])
    expected = {"team": "core", "nested": {"keep": True}, "links": [{"url": "https://example.com"}]}
    detail = apps["marketplace"].get(f"/marketplace/listings/{listing['id']}").get_json()
    assert detail["definition"]["metadata"] == expected
    bundle = apps["marketplace"].get(f"/marketplace/listings/{listing['id']}/download").get_json()
    assert bundle["definition"]["metadata"] == expected
    copy = install(apps, other_user, listing["id"])
    assert copy["metadata"] == expected
    for secret in ("sk-live-123", "t0k3n", "hunter2", "internal"):
        assert secret not in json.dumps(detail) + json.dumps(bundle) + json.dumps(copy)


def test_republish_moves_listing_to_new_version(apps: dict[str, ApiClient], user: TestUser) -> None:
    agent = create_agent(apps, user)
    first = publish(apps, user, agent["id"], tags=["review"])
    changed = definition(description="Reviews Rust code", system_prompt="You review Rust.")
    assert apps["agents"].put(f"/agents/{agent['id']}", token=user.token, json=changed).status_code == 200
    # The snapshot is immutable: editing the agent does not change the listing ...
    detail = apps["marketplace"].get(f"/marketplace/listings/{first['id']}").get_json()
    assert detail["version"] == 1 and detail["definition"]["system_prompt"] == "You review code."
    assert search(apps, q="rust") == []
    # ... until it is published again: same listing, new version, 200.
    second = publish(apps, user, agent["id"], tags=["review", "rust"], status=200)
    assert second["id"] == first["id"] and second["version"] == 2
    assert second["published_at"] == first["published_at"] and second["updated_at"] > first["updated_at"]
    detail = apps["marketplace"].get(f"/marketplace/listings/{first['id']}").get_json()
    assert detail["definition"]["system_prompt"] == "You review Rust."
    assert ids(search(apps, q="rust")) == [first["id"]]
    assert len(search(apps)) == 1


# -- search ---------------------------------------------------------------------------------


@pytest.fixture
def catalog(apps: dict[str, ApiClient], user: TestUser, make_user: Any) -> dict[str, Any]:
    """Four listings with distinct installs and ratings: enough to tell every sort apart."""
    specs = [
        ("sql-helper", "SQL Helper", "Writes SQL queries for analysts", "data", ["sql", "analytics"]),
        ("pr-reviewer", "PR Reviewer", "Reviews pull requests", "coding", ["review", "git"]),
        ("cafe-writer", "Café Writer", "Writes menus for a café", "writing", ["menus"]),
        (
            "sec-auditor",
            "Security Auditor",
            "Reviews code for vulnerabilities",
            "coding",
            ["security", "review"],
        ),
    ]
    listings: dict[str, Any] = {}
    for name, display, description, category, tags in specs:
        agent = create_agent(apps, user, definition(name, display_name=display, description=description))
        listings[name] = publish(apps, user, agent["id"], category=category, tags=tags)
    # installs: sql 3, pr 2, cafe 1, sec 0; ratings: cafe 5, pr 3, sql 1 (sec unrated).
    raters = [make_user() for _ in range(3)]
    for count, name in ((3, "sql-helper"), (2, "pr-reviewer"), (1, "cafe-writer")):
        for rater in raters[:count]:
            install(apps, rater, listings[name]["id"])
    for name, stars in (("cafe-writer", 5), ("pr-reviewer", 3), ("sql-helper", 1)):
        assert rate(apps, raters[0], listings[name]["id"], stars).status_code == 200
    return {name: listing["id"] for name, listing in listings.items()}


def test_search_sorts(apps: dict[str, ApiClient], catalog: dict[str, str]) -> None:
    c = catalog
    assert ids(search(apps, sort="installs")) == [
        c["sql-helper"],
        c["pr-reviewer"],
        c["cafe-writer"],
        c["sec-auditor"],
    ]
    assert ids(search(apps, sort="rating")) == [
        c["cafe-writer"],
        c["pr-reviewer"],
        c["sql-helper"],
        c["sec-auditor"],
    ]
    assert ids(search(apps, sort="recent")) == [
        c["sec-auditor"],
        c["cafe-writer"],
        c["pr-reviewer"],
        c["sql-helper"],
    ]
    assert ids(search(apps)) == ids(search(apps, sort="recent"))
    top = search(apps, sort="rating")[0]
    assert (
        top["stats"]["rating_avg"] == 5.0
        and top["stats"]["rating_count"] == 1
        and top["stats"]["installs"] == 1
    )


@pytest.mark.parametrize("sort", ["rating", "installs", "recent"])
def test_search_by_text_tag_and_category_under_each_sort(
    apps: dict[str, ApiClient], catalog: dict[str, str], sort: str
) -> None:
    c = catalog
    # Free text: lowercase, accents stripped, any field, prefixes of short fields, AND of words.
    assert set(ids(search(apps, q="REVIEWS", sort=sort))) == {c["pr-reviewer"], c["sec-auditor"]}
    assert set(ids(search(apps, q="cafe", sort=sort))) == {c["cafe-writer"]}
    assert set(ids(search(apps, q="Café", sort=sort))) == {c["cafe-writer"]}
    assert set(ids(search(apps, q="aud", sort=sort))) == {c["sec-auditor"]}
    assert set(ids(search(apps, q="reviews vulnerabilities", sort=sort))) == {c["sec-auditor"]}
    assert set(ids(search(apps, q="reviews nothing-like-this", sort=sort))) == set()
    assert set(ids(search(apps, q="analytics", sort=sort))) == {c["sql-helper"]}  # a tag is text too
    # Tags: one tag, or one of several.
    assert set(ids(search(apps, tags="review", sort=sort))) == {c["pr-reviewer"], c["sec-auditor"]}
    assert set(ids(search(apps, tags="sql,menus", sort=sort))) == {c["sql-helper"], c["cafe-writer"]}
    # Category, and everything combined.
    assert set(ids(search(apps, category="coding", sort=sort))) == {c["pr-reviewer"], c["sec-auditor"]}
    assert set(ids(search(apps, category="data", tags="sql", sort=sort))) == {c["sql-helper"]}
    assert set(ids(search(apps, q="reviews", tags="security,sql", category="coding", sort=sort))) == {
        c["sec-auditor"]
    }
    assert ids(search(apps, q="writes", category="coding", sort=sort)) == []
    # Results keep the sort order when filtered.
    full = ids(search(apps, sort=sort))
    filtered = ids(search(apps, q="reviews", sort=sort))
    assert filtered == [i for i in full if i in filtered]


def test_search_rejects_bad_parameters(apps: dict[str, ApiClient]) -> None:
    market = apps["marketplace"]
    for query in ("?sort=best", "?category=nope", "?limit=0", "?limit=101", "?q=!!", "?colour=red"):
        assert error_code(market.get("/marketplace/listings" + query), 422) == "validation_error", query
    assert error_code(market.get("/marketplace/listings?cursor=garbage"), 400) == "invalid_cursor"
    first = market.get("/marketplace/listings?limit=1&sort=rating").get_json()
    assert first["items"] == []


def test_pagination_has_no_duplicates_or_gaps_while_listings_change(
    apps: dict[str, ApiClient], user: TestUser, moderator: TestUser
) -> None:
    agents = [create_agent(apps, user, definition(f"agent-{i:02d}")) for i in range(12)]
    listings = [publish(apps, user, a["id"], tags=["batch"])["id"] for a in agents]
    for sort in ("recent", "installs", "rating"):
        seen: list[str] = []
        cursor = None
        removed: set[str] = set()
        added: list[str] = []
        page_number = 0
        while True:
            params: dict[str, Any] = {"limit": 5, "sort": sort, "tags": "batch"}
            if cursor:
                params["cursor"] = cursor
            page = apps["marketplace"].get("/marketplace/listings", query_string=params).get_json()
            seen += ids(page["items"])
            cursor = page["next_cursor"]
            page_number += 1
            if page_number == 1:
                # Change the catalogue between pages: a new listing, a removal not yet seen.
                extra = create_agent(apps, user, definition(f"late-{sort}"))
                added.append(publish(apps, user, extra["id"], tags=["batch"])["id"])
                unseen = next(i for i in reversed(listings) if i not in seen and i not in removed)
                assert (
                    apps["marketplace"]
                    .delete(f"/marketplace/listings/{unseen}", token=moderator.token)
                    .status_code
                    == 204
                )
                removed.add(unseen)
                listings.remove(unseen)
            if not cursor:
                break
        assert len(seen) == len(set(seen)), f"duplicates under sort={sort}"
        stable = [i for i in listings if i not in added]
        assert set(stable) <= set(seen), f"gaps under sort={sort}"
        assert not removed & set(seen)
        listings += added


# -- detail, install, download ----------------------------------------------------------------


def test_detail_404s(apps: dict[str, ApiClient]) -> None:
    assert error_code(apps["marketplace"].get("/marketplace/listings/nope"), 404) == "not_found"
    assert error_code(apps["marketplace"].get("/marketplace/listings/nope/download"), 404) == "not_found"


def test_install_creates_own_copy_with_source(
    apps: dict[str, ApiClient], user: TestUser, other_user: TestUser
) -> None:
    agent = create_agent(apps, user)
    listing = publish(apps, user, agent["id"])
    market = apps["marketplace"]
    assert market.post(f"/marketplace/listings/{listing['id']}/install").status_code == 401
    copy = install(apps, other_user, listing["id"])
    assert copy["owner_id"] == other_user.id and copy["id"] != agent["id"] and copy["version"] == 1
    assert copy["source"] == {
        "listing_id": listing["id"],
        "listing_version": 1,
        "approval_tools": [],
        "mcp_servers": [],
    }
    assert copy["system_prompt"] == "You review code."
    mine = apps["agents"].get(f"/agents/{copy['id']}", token=other_user.token)
    assert mine.status_code == 200 and mine.get_json()["source"]["listing_id"] == listing["id"]
    # Installing again returns my copy (200); another copy only when asked for under a new name.
    path = f"/marketplace/listings/{listing['id']}/install"
    again = market.post(path, token=other_user.token)
    assert again.status_code == 200 and again.get_json()["id"] == copy["id"]
    taken = market.post(path + "?name=" + copy["name"], token=other_user.token)
    assert error_code(taken, 409) == "name_taken"
    assert taken.get_json()["error"]["details"] == {"name": copy["name"], "agent_id": copy["id"]}
    headers = {"Idempotency-Key": "install-1"}
    first = market.post(path + "?name=second-copy", token=other_user.token, headers=headers)
    retried = market.post(path + "?name=second-copy", token=other_user.token, headers=headers)
    assert first.status_code == 201 and first.get_json()["name"] == "second-copy"
    assert retried.get_json()["id"] == first.get_json()["id"]
    mine = apps["agents"].get("/agents", token=other_user.token).get_json()["items"]
    assert sorted(a["name"] for a in mine) == sorted([copy["name"], "second-copy"])
    # A plain reinstall returns the latest copy.
    assert market.post(path, token=other_user.token).get_json()["id"] == first.get_json()["id"]
    # The publisher cannot install their own listing.
    assert error_code(market.post(path, token=user.token), 409) == "own_listing"
    detail = market.get(f"/marketplace/listings/{listing['id']}").get_json()
    assert detail["stats"]["installs"] == 1
    assert search(apps)[0]["stats"]["installs"] == 1


def test_install_under_a_name_i_already_use_is_409_until_i_choose_another(
    apps: dict[str, ApiClient], user: TestUser, other_user: TestUser
) -> None:
    listing = publish(apps, user, create_agent(apps, user)["id"])
    mine = create_agent(apps, other_user)  # the installer already has a "code-reviewer"
    path = f"/marketplace/listings/{listing['id']}/install"
    clash = apps["marketplace"].post(path, token=other_user.token)
    assert error_code(clash, 409) == "name_taken"
    assert clash.get_json()["error"]["details"]["agent_id"] == mine["id"]
    assert (
        apps["marketplace"].get(f"/marketplace/listings/{listing['id']}").get_json()["stats"]["installs"] == 0
    )
    copy = apps["marketplace"].post(path + "?name=reviewer-copy", token=other_user.token)
    assert copy.status_code == 201 and copy.get_json()["name"] == "reviewer-copy"


def test_download_bundle_round_trips_through_post_agents(
    apps: dict[str, ApiClient], user: TestUser, other_user: TestUser
) -> None:
    tools = [
        {"name": "file_read", "enabled": True, "config": {}},
        {"name": "file_write", "enabled": True, "config": {"requires_approval": True}},
        {"name": "web_search", "enabled": True, "config": {}},
        {"name": "grep", "enabled": False, "config": {}},
    ]
    agent = create_agent(apps, user, definition(tools=tools))
    listing = publish(apps, user, agent["id"], tags=["files"], summary="Edits files")
    response = apps["marketplace"].get(f"/marketplace/listings/{listing['id']}/download")
    assert response.status_code == 200
    bundle = response.get_json()
    assert bundle["format"] == "agents-service.bundle/v1"
    manifest = bundle["manifest"]
    assert [t["name"] for t in manifest["tools"]] == ["file_read", "file_write", "web_search"]
    assert [t["requires_approval"] for t in manifest["tools"]] == [False, True, False]
    assert manifest["permissions"] == [
        "model:vertex-gemini/gemini-2.5-flash",
        "web:search",
        "workspace:read",
        "workspace:write",
    ]
    assert bundle["listing"]["id"] == listing["id"] and bundle["listing"]["summary"] == "Edits files"
    canonical = json.dumps(
        {"definition": bundle["definition"], "manifest": manifest},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    assert bundle["sha256"] == hashlib.sha256(canonical.encode()).hexdigest()
    created = apps["agents"].post("/agents", token=other_user.token, json=bundle["definition"])
    assert created.status_code == 201, created.get_data(as_text=True)
    assert created.get_json()["tools"] == bundle["definition"]["tools"]


# -- ratings --------------------------------------------------------------------------------


def test_verified_rating_rule(
    apps: dict[str, ApiClient], user: TestUser, other_user: TestUser, make_user: Any
) -> None:
    agent = create_agent(apps, user)
    listing_id = publish(apps, user, agent["id"])["id"]
    assert error_code(rate(apps, user, listing_id, 5), 403) == "own_listing"
    own_install = apps["marketplace"].post(f"/marketplace/listings/{listing_id}/install", token=user.token)
    assert error_code(own_install, 409) == "own_listing"  # owners neither install nor rate
    assert error_code(rate(apps, other_user, listing_id, 4), 403) == "not_verified"
    assert apps["marketplace"].get(f"/marketplace/listings/{listing_id}/ratings").get_json()["items"] == []
    install(apps, other_user, listing_id)
    for stars in (0, 6):
        assert error_code(rate(apps, other_user, listing_id, stars), 422) == "validation_error"
    response = rate(apps, other_user, listing_id, 4, "Solid")
    assert response.status_code == 200
    assert response.get_json()["stars"] == 4 and response.get_json()["review"] == "Solid"
    # One rating per user, updatable.
    updated = rate(apps, other_user, listing_id, 2).get_json()
    assert updated["stars"] == 2 and updated["created_at"] == response.get_json()["created_at"]
    stats = apps["marketplace"].get(f"/marketplace/listings/{listing_id}").get_json()["stats"]
    assert stats["rating_count"] == 1 and stats["rating_avg"] == 2.0
    ratings = apps["marketplace"].get(f"/marketplace/listings/{listing_id}/ratings").get_json()
    assert [(r["user_id"], r["stars"]) for r in ratings["items"]] == [(other_user.id, 2)]
    assert ratings["items"][0]["username"] == other_user.username
    assert error_code(rate(apps, make_user(), "nope", 3), 404) == "not_found"


def test_ratings_are_paginated(apps: dict[str, ApiClient], user: TestUser, make_user: Any) -> None:
    agent = create_agent(apps, user)
    listing_id = publish(apps, user, agent["id"])["id"]
    raters = [make_user() for _ in range(5)]
    for index, rater in enumerate(raters):
        install(apps, rater, listing_id)
        assert rate(apps, rater, listing_id, 1 + index % 5).status_code == 200
    seen: list[str] = []
    cursor = None
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (
            apps["marketplace"]
            .get(f"/marketplace/listings/{listing_id}/ratings", query_string=query)
            .get_json()
        )
        assert len(page["items"]) <= 2
        seen += [r["user_id"] for r in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [r.id for r in reversed(raters)]


def test_concurrent_ratings_keep_exact_count_and_average(
    apps: dict[str, ApiClient], user: TestUser, make_user: Any
) -> None:
    agent = create_agent(apps, user)
    listing_id = publish(apps, user, agent["id"])["id"]
    raters = [make_user() for _ in range(20)]
    for rater in raters:
        install(apps, rater, listing_id)
    stars = [1 + (i * 3) % 5 for i in range(20)]
    app = apps["marketplace"].app

    def put(args: tuple[TestUser, int]) -> int:
        rater, value = args
        client = app.test_client()
        response = client.put(
            f"/marketplace/listings/{listing_id}/ratings/me",
            json={"stars": value},
            headers={"Authorization": f"Bearer {rater.token}"},
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(put, zip(raters, stars, strict=True)))
    assert statuses == [200] * 20
    expected_avg = round(sum(stars) / 20, 4)
    detail = apps["marketplace"].get(f"/marketplace/listings/{listing_id}").get_json()
    assert detail["stats"]["rating_count"] == 20
    assert detail["stats"]["rating_avg"] == expected_avg
    # The folded copy search sorts by converged to the same totals.
    listed = search(apps, sort="rating")[0]["stats"]
    assert listed["rating_count"] == 20 and listed["rating_avg"] == expected_avg
    # Concurrent updates of the same users move the sum by their deltas only.
    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(put, [(r, 5) for r in raters]))
    assert statuses == [200] * 20
    detail = apps["marketplace"].get(f"/marketplace/listings/{listing_id}").get_json()
    assert detail["stats"]["rating_count"] == 20 and detail["stats"]["rating_avg"] == 5.0


# -- moderation and categories ----------------------------------------------------------------


def test_moderation(
    apps: dict[str, ApiClient], user: TestUser, other_user: TestUser, moderator: TestUser, admin: TestUser
) -> None:
    market = apps["marketplace"]
    listings = [
        publish(apps, user, create_agent(apps, user, definition(f"a{i}"))["id"])["id"] for i in range(3)
    ]
    copy = install(apps, other_user, listings[0])
    assert market.delete(f"/marketplace/listings/{listings[0]}").status_code == 401
    assert (
        error_code(market.delete(f"/marketplace/listings/{listings[0]}", token=other_user.token), 403)
        == "forbidden"
    )
    assert market.delete(f"/marketplace/listings/{listings[0]}", token=moderator.token).status_code == 204
    assert market.delete(f"/marketplace/listings/{listings[1]}", token=admin.token).status_code == 204
    assert market.delete(f"/marketplace/listings/{listings[2]}", token=user.token).status_code == 204
    for listing_id in listings:
        assert market.get(f"/marketplace/listings/{listing_id}").status_code == 404
        assert (
            market.post(f"/marketplace/listings/{listing_id}/install", token=other_user.token).status_code
            == 404
        )
        assert (
            error_code(market.delete(f"/marketplace/listings/{listing_id}", token=admin.token), 404)
            == "not_found"
        )
    assert search(apps) == [] and search(apps, q="reviews") == []
    # The installed copy is the installer's own agent and keeps working.
    assert apps["agents"].get(f"/agents/{copy['id']}", token=other_user.token).status_code == 200
    # Moderation sticks: the owner cannot bring a removed listing back; an owner-deleted one can be.
    agent_ids = [apps["marketplace"].get(f"/marketplace/listings/{i}") for i in listings]
    assert all(r.status_code == 404 for r in agent_ids)


def test_republish_after_removal(apps: dict[str, ApiClient], user: TestUser, moderator: TestUser) -> None:
    market = apps["marketplace"]
    removed_agent = create_agent(apps, user, definition("removed"))
    deleted_agent = create_agent(apps, user, definition("deleted"))
    removed = publish(apps, user, removed_agent["id"])
    deleted = publish(apps, user, deleted_agent["id"])
    assert market.delete(f"/marketplace/listings/{removed['id']}", token=moderator.token).status_code == 204
    assert market.delete(f"/marketplace/listings/{deleted['id']}", token=user.token).status_code == 204
    body = {"agent_id": removed_agent["id"], "category": "coding", "tags": []}
    assert (
        error_code(market.post("/marketplace/listings", token=user.token, json=body), 403)
        == "listing_removed"
    )
    fresh = publish(apps, user, deleted_agent["id"])
    assert fresh["id"] != deleted["id"]
    assert ids(search(apps)) == [fresh["id"]]


def test_categories(apps: dict[str, ApiClient], user: TestUser) -> None:
    for i, category in enumerate(("coding", "coding", "data")):
        publish(apps, user, create_agent(apps, user, definition(f"c{i}"))["id"], category=category)
    response = apps["marketplace"].get("/marketplace/categories")
    assert response.status_code == 200
    counts = {c["id"]: c["count"] for c in response.get_json()}
    assert counts["coding"] == 2 and counts["data"] == 1 and counts["writing"] == 0
    assert {"coding", "writing", "research", "data", "other"} <= set(counts)


# -- the whole journey ------------------------------------------------------------------------


def test_full_journey(
    apps: dict[str, ApiClient],
    user: TestUser,
    other_user: TestUser,
    moderator: TestUser,
    env: Any,
) -> None:
    env(MARKETPLACE_STATS_FOLD_SECONDS="0")
    market = apps["marketplace"]
    agent = create_agent(apps, user, definition(tools=[]))
    listing = publish(apps, user, agent["id"], category="coding", tags=["review"], summary="Reviews diffs")
    listing_id = listing["id"]
    # Found by text, tag and category under each sort.
    for sort in ("rating", "installs", "recent"):
        assert ids(search(apps, q="review", sort=sort)) == [listing_id]
        assert ids(search(apps, tags="review", sort=sort)) == [listing_id]
        assert ids(search(apps, category="coding", sort=sort)) == [listing_id]
    assert (
        market.get(f"/marketplace/listings/{listing_id}").get_json()["definition"]["name"] == "code-reviewer"
    )
    # Install and run the installed copy (offline model) twice.
    copy = install(apps, other_user, listing_id)
    for text in ("first diff", "second diff"):
        run = apps["runs"].post("/runs", token=other_user.token, json={"agent_id": copy["id"], "input": text})
        assert run.status_code == 200, run.get_data(as_text=True)
        assert run.get_json()["status"] == "succeeded"
    # The owner's own runs of the original are not marketplace usage.
    own = apps["runs"].post("/runs", token=user.token, json={"agent_id": agent["id"], "input": "mine"})
    assert own.status_code == 200
    assert rate(apps, other_user, listing_id, 4, "Useful").status_code == 200
    stats = market.get(f"/marketplace/listings/{listing_id}").get_json()["stats"]
    assert stats["runs"] == 2 and stats["success_rate"] == 1.0
    assert stats["installs"] == 1 and stats["rating_count"] == 1 and stats["rating_avg"] == 4.0
    assert stats["p50_latency_ms"] is not None and stats["p50_latency_ms"] >= 0
    assert stats["avg_cost_usd"] is not None and stats["avg_cost_usd"] >= 0
    assert search(apps)[0]["stats"] == stats
    # Republish a new version: same listing, new snapshot; the installed copy is unchanged.
    changed = definition(tools=[], system_prompt="You review diffs carefully.")
    assert apps["agents"].put(f"/agents/{agent['id']}", token=user.token, json=changed).status_code == 200
    republished = publish(apps, user, agent["id"], category="coding", tags=["review"], status=200)
    assert republished["id"] == listing_id and republished["version"] == 2
    assert republished["stats"]["runs"] == 2
    copy_now = apps["agents"].get(f"/agents/{copy['id']}", token=other_user.token).get_json()
    assert copy_now["system_prompt"] == "You review code." and copy_now["source"]["listing_version"] == 1
    # Moderation: gone from search and detail; the installed copy still runs.
    assert market.delete(f"/marketplace/listings/{listing_id}", token=moderator.token).status_code == 204
    assert (
        search(apps, q="review") == []
        and market.get(f"/marketplace/listings/{listing_id}").status_code == 404
    )
    run = apps["runs"].post("/runs", token=other_user.token, json={"agent_id": copy["id"], "input": "after"})
    assert run.status_code == 200 and run.get_json()["status"] == "succeeded"
