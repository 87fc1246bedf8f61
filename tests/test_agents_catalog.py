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
        # The test stack runs MODEL_BACKEND=offline: every model can run.
        assert model["available"] is True


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
    gemini = {m["available"] for m in models if m["provider"] == "vertex-gemini"}
    claude = {m["available"] for m in models if m["provider"] == "vertex-anthropic"}
    assert gemini == {expected}
    assert claude == {project != "demo-agents"}


def test_prices_match_genai_prices() -> None:
    """Every price in models.json is genai-prices' base-tier price for the referenced model."""
    from genai_prices import Usage, calc_price

    checked = 0
    for model in list_models():
        assert model.prices_ref is not None, model.name
        ref = model.prices_ref
        tokens = 1000  # below every tier threshold
        inp = calc_price(Usage(input_tokens=tokens), ref.model, provider_id=ref.provider)
        out = calc_price(Usage(output_tokens=tokens), ref.model, provider_id=ref.provider)
        assert inp.model.id == ref.model
        assert Decimal(str(model.input_price_per_mtok)) == inp.total_price * 1000, model.name
        assert Decimal(str(model.output_price_per_mtok)) == out.total_price * 1000, model.name
        checked += 1
    assert checked == len(list_models()) >= 8


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
