"""The model catalog: GET /models, availability, and prices cross-checked with genai-prices."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from shared.agents.catalog import find_model, list_models
from tests.conftest import ApiClient

DATA = Path(__file__).resolve().parent.parent / "shared" / "agents" / "models.json"


def test_get_models_returns_the_catalog(agents_api: ApiClient) -> None:
    response = agents_api.get("/models")
    assert response.status_code == 200
    models = response.get_json()
    keys = {(m["provider"], m["name"]) for m in models}
    assert keys == {(e["provider"], e["name"]) for e in json.loads(DATA.read_text())["models"]}
    assert {"gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite", "gemini-2.0-flash"} <= {
        m["name"] for m in models if m["provider"] == "vertex-gemini"
    }
    assert {"claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5"} <= {
        m["name"] for m in models if m["provider"] == "vertex-anthropic"
    }
    for model in models:
        assert set(model) >= {
            "provider",
            "name",
            "display_name",
            "context_window",
            "input_price_per_mtok",
            "output_price_per_mtok",
            "available",
        }
        assert "vertex_model_id" not in model and "prices_ref" not in model
        # The test stack runs MODEL_BACKEND=offline: every model but the retired ones can run.
        assert model["available"] is (not model["retired"])
        assert model["sampling"] in ([], ["temperature", "top_p"])
    retired = {m["name"] for m in models if m["retired"]}
    assert {"gemini-2.0-flash", "claude-3-5-sonnet"} <= retired
    assert "claude-sonnet-4-5" not in retired


def test_vertex_ids_for_claude() -> None:
    sonnet = find_model("vertex-anthropic", "claude-sonnet-4-5")
    assert sonnet is not None and sonnet.vertex_model_id == "claude-sonnet-4-5@20250929"
    assert find_model("vertex-gemini", "claude-sonnet-4-5") is None


@pytest.mark.parametrize(
    ("project", "location", "expected"),
    [
        ("my-prod-project", "us-central1", True),
        ("demo-agents", "us-central1", False),
        ("my-prod-project", "", False),
    ],
)
def test_availability_with_vertex_backend(
    agents_api: ApiClient, env: Callable[..., None], project: str, location: str, expected: bool
) -> None:
    env(MODEL_BACKEND="vertex", GOOGLE_CLOUD_PROJECT=project, VERTEX_LOCATION=location)
    models = agents_api.get("/models").get_json()
    current = [m for m in models if not m["retired"]]
    assert all(not m["available"] for m in models if m["retired"])
    gemini = {m["available"] for m in current if m["provider"] == "vertex-gemini"}
    claude = {m["available"] for m in current if m["provider"] == "vertex-anthropic"}
    assert gemini == {expected}
    assert claude == {project != "demo-agents"}


def test_prices_match_genai_prices() -> None:
    """Every price entry in models.json is genai-prices' base-tier price on the day it starts."""
    from datetime import UTC, date, datetime

    from genai_prices import Usage, calc_price

    checked = 0
    for model in list_models():
        assert model.prices_ref is not None, model.name
        ref = model.prices_ref
        tokens = 1000  # below every tier threshold
        for entry in model.prices:
            when = datetime.combine(entry.start or date(2025, 12, 1), datetime.min.time(), UTC)
            inp = calc_price(
                Usage(input_tokens=tokens), ref.model, provider_id=ref.provider, genai_request_timestamp=when
            )
            out = calc_price(
                Usage(output_tokens=tokens), ref.model, provider_id=ref.provider, genai_request_timestamp=when
            )
            assert inp.model.id == ref.model
            assert Decimal(str(entry.input_per_mtok)) == inp.total_price * 1000, model.name
            assert Decimal(str(entry.output_per_mtok)) == out.total_price * 1000, model.name
        # What GET /models shows is today's genai-prices price.
        now = calc_price(
            Usage(input_tokens=tokens, output_tokens=tokens), ref.model, provider_id=ref.provider
        )
        shown = Decimal(str(model.input_price_per_mtok)) + Decimal(str(model.output_price_per_mtok))
        assert shown == now.total_price * 1000, model.name
        checked += 1
    assert checked == len(list_models()) >= 30


# Vertex-priced Gemini / Claude models that are not chat models an agent can run.
# Also left out: Gemini 1.x (retired 2025) and the older Claude models below Sonnet 3.7.
NOT_AGENT_MODELS = (
    *("tts", "image", "live", "embedding", "robotics", "omni", "nano-banana", "gemini-pro"),
    *(
        "gemini-1",
        "gemini-flash-1",
        "gemini-pro-1",
        "gemini-2.5-flash-preview",
        "claude-3-haiku",
        "claude-4-opus",
    ),
)


def test_every_current_vertex_model_genai_prices_prices_is_listed() -> None:
    from genai_prices import data

    google = next(p for p in data.providers if p.id == "google")
    priced = {
        m.id
        for m in google.models
        if m.id.startswith(("gemini", "claude")) and not any(word in m.id for word in NOT_AGENT_MODELS)
    }
    listed = {m.prices_ref.model for m in list_models() if m.prices_ref and m.prices_ref.provider == "google"}
    assert priced - listed == set()
    # genai-prices' deprecated models are listed as retired, never available.
    deprecated = {m.id for m in google.models if m.deprecated}
    for model in list_models():
        if model.prices_ref and model.prices_ref.model in deprecated:
            assert not model.enabled and not model.available, model.name


def test_cost_helper() -> None:
    model = find_model("vertex-gemini", "gemini-2.5-flash")
    assert model is not None
    assert model.cost_usd(1_000_000, 1_000_000) == pytest.approx(
        model.input_price_per_mtok + model.output_price_per_mtok
    )


def test_openapi_documents_agents_endpoints() -> None:
    from tools.functions import openapi_document

    doc: dict = openapi_document()  # type: ignore[type-arg]
    paths = doc["paths"]
    for path, method in [
        ("/agents", "post"),
        ("/agents", "get"),
        ("/agents/{agent_id}", "get"),
        ("/agents/{agent_id}", "put"),
        ("/agents/{agent_id}", "delete"),
        ("/agents/{agent_id}/versions", "get"),
        ("/models", "get"),
        ("/tools", "get"),
    ]:
        assert method in paths[path], (path, method)
    post = paths["/agents"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/AgentCreate")
    assert "201" in post["responses"] and "422" in post["responses"]
    schemas = doc["components"]["schemas"]
    assert {"AgentCreate", "AgentPublic", "AgentPage", "ModelPublic", "ToolPublic"} <= set(schemas)
    assert "owner_id" in schemas["AgentPublic"]["properties"]
    params = {p["name"] for p in paths["/agents"]["get"]["parameters"]}
    assert params == {"limit", "cursor"}
