"""The eval routes of the `runs` function: /eval-datasets and /evals (see API.md)."""

from __future__ import annotations

from typing import Any

import flask

from shared.evals import datasets
from shared.evals import service as evals
from shared.evals.datasets import (
    DatasetListQuery,
    EvalDatasetCreate,
    EvalDatasetImport,
    EvalDatasetPage,
    EvalDatasetPublic,
    EvalDatasetUpdate,
)
from shared.evals.schemas import (
    EvalComparison,
    EvalCreate,
    EvalListQuery,
    EvalPage,
    EvalPublic,
    EvalResultPage,
    EvalResultsQuery,
)
from shared.web import Reply, RequestContext, Router

routes = Router("runs", ())


@routes.route(
    "POST", "/eval-datasets", body=EvalDatasetCreate, response=EvalDatasetPublic, status=201, scope="runs"
)
def create_dataset(ctx: RequestContext) -> Reply:
    """Create an eval dataset: cases (input, expected output, evaluators) and evaluators for all."""
    dataset = datasets.create(ctx.principal, ctx.body)
    return Reply(dataset, status=201, headers={"Location": f"/eval-datasets/{dataset.id}"})


@routes.route(
    "POST",
    "/eval-datasets/import",
    body=EvalDatasetImport,
    response=EvalDatasetPublic,
    status=201,
    scope="runs",
)
def import_dataset(ctx: RequestContext) -> Reply:
    """Create a dataset from a pydantic-evals dataset file (YAML or JSON text in `content`)."""
    dataset = datasets.import_dataset(ctx.principal, ctx.body)
    return Reply(dataset, status=201, headers={"Location": f"/eval-datasets/{dataset.id}"})


@routes.route("GET", "/eval-datasets", query=DatasetListQuery, response=EvalDatasetPage, scope="runs")
def list_datasets(ctx: RequestContext) -> EvalDatasetPage:
    """My eval datasets (without their cases), newest first."""
    return datasets.list_mine(ctx.principal, limit=ctx.query.limit, cursor=ctx.query.cursor)


@routes.route(
    "GET",
    "/eval-datasets/{dataset_id}",
    auth="optional",
    response=EvalDatasetPublic,
    errors=(404,),
    scope="runs",
)
def get_dataset(ctx: RequestContext) -> EvalDatasetPublic:
    """One of my datasets, or a public one (attached to a marketplace listing)."""
    return datasets.readable(ctx.principal_or_none, ctx.params["dataset_id"]).as_public()


@routes.route(
    "GET",
    "/eval-datasets/{dataset_id}/export",
    auth="optional",
    response=dict[str, Any],
    errors=(404,),
    scope="runs",
)
def export_dataset(ctx: RequestContext) -> dict[str, Any]:
    """The dataset as a pydantic-evals dataset file (JSON; `Dataset.from_file` reads it)."""
    return datasets.export_dataset(ctx.principal_or_none, ctx.params["dataset_id"])


@routes.route(
    "GET",
    "/eval-datasets/{dataset_id}/export.yaml",
    auth="optional",
    response=dict[str, Any],
    errors=(404,),
    response_media_type="application/yaml, text/plain",
    scope="runs",
)
def export_dataset_yaml(ctx: RequestContext) -> flask.Response:
    """The dataset as a pydantic-evals dataset file in YAML.

    `application/yaml` (RFC 9512), or `text/plain` when `Accept` prefers it (to view it as
    text; also what generated clients that do not know YAML read).
    """
    from shared.evals.interchange import render

    text = render(datasets.export_dataset(ctx.principal_or_none, ctx.params["dataset_id"]), "yaml")
    media = ctx.request.accept_mimetypes.best_match(["application/yaml", "text/plain"]) or "application/yaml"
    return flask.Response(text, status=200, content_type=f"{media}; charset=utf-8")


@routes.route(
    "PATCH",
    "/eval-datasets/{dataset_id}",
    body=EvalDatasetUpdate,
    response=EvalDatasetPublic,
    errors=(404,),
    scope="runs",
)
def update_dataset(ctx: RequestContext) -> EvalDatasetPublic:
    """Replace some of a dataset's fields (name, description, cases, evaluators)."""
    return datasets.update(ctx.principal, ctx.params["dataset_id"], ctx.body)


@routes.route("DELETE", "/eval-datasets/{dataset_id}", status=204, errors=(404, 409), scope="runs")
def delete_dataset(ctx: RequestContext) -> None:
    """Delete a dataset (409 while it verifies a marketplace listing). Its evals stay."""
    datasets.delete(ctx.principal, ctx.params["dataset_id"])


@routes.route(
    "POST",
    "/evals",
    body=EvalCreate,
    response=EvalPublic,
    status=202,
    errors=(404, 409, 429),
    headers=("Idempotency-Key",),
    scope="runs",
)
def create_eval(ctx: RequestContext) -> Reply:
    """Run every case of a dataset on an agent version (async, as a batch) and score the results.
    A retry with the same `Idempotency-Key` returns the first eval (409 if the body differs)."""
    started = evals.create_eval(ctx.principal, ctx.body, header_key=ctx.idempotency_key)
    return Reply(started, status=202, headers={"Location": f"/evals/{started.id}"})


@routes.route("GET", "/evals", query=EvalListQuery, response=EvalPage, scope="runs")
def list_evals(ctx: RequestContext) -> EvalPage:
    """My evals, newest first; filter by `agent_id` and/or `dataset_id`."""
    q: EvalListQuery = ctx.query
    return evals.list_mine(
        ctx.principal, agent_id=q.agent_id, dataset_id=q.dataset_id, limit=q.limit, cursor=q.cursor
    )


@routes.route("GET", "/evals/{eval_id}", auth="optional", response=EvalPublic, errors=(404,), scope="runs")
def get_eval(ctx: RequestContext) -> EvalPublic:
    """An eval with live counts; `summary` (pass rate, cost, p50/p95 latency) once every run is scored."""
    return evals.get_eval(ctx.principal_or_none, ctx.params["eval_id"])


@routes.route(
    "GET",
    "/evals/{eval_id}/results",
    auth="optional",
    query=EvalResultsQuery,
    response=EvalResultPage,
    errors=(400, 404),
    scope="runs",
)
def list_eval_results(ctx: RequestContext) -> EvalResultPage:
    """Per case and repeat: pass/fail, score and each evaluator's verdict with its reason."""
    q: EvalResultsQuery = ctx.query
    return evals.list_results(ctx.principal_or_none, ctx.params["eval_id"], limit=q.limit, cursor=q.cursor)


@routes.route(
    "GET",
    "/evals/{eval_id}/compare/{base_id}",
    auth="optional",
    response=EvalComparison,
    errors=(404, 409, 422),
    scope="runs",
)
def compare_evals(ctx: RequestContext) -> EvalComparison:
    """This eval against an earlier one of the same dataset: cases fixed or regressed, cost and
    latency deltas (409 until both are completed)."""
    return evals.compare(ctx.principal_or_none, ctx.params["base_id"], ctx.params["eval_id"])
