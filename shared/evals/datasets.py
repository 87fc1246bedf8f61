"""Eval datasets: ``/eval-datasets`` CRUD, import and export (pydantic-evals' file format).

``eval_datasets/{id}`` holds the whole dataset (cases inline, at most ``MAX_DATASET_BYTES`` of
JSON, so one read gives an eval everything). A dataset attached to a marketplace listing is
``public`` (anyone can read it; only its owner changes it) and cannot be deleted while attached.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shared import db
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.evals.evaluators import MAX_EVALUATORS, Evaluator
from shared.json_schema import not_null, some_field
from shared.pagination import Page, PageQuery, newest_first
from shared.runs.schemas import MAX_TEXT_CHARS, RunInput

if TYPE_CHECKING:
    from shared.auth.principal import Principal

DATASETS = "eval_datasets"
MAX_CASES = 1000
MAX_DATASET_BYTES = 900_000


class EvalCase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    # Declared like a run's input (a non-blank prompt, or 1 to 32 parts).
    input: RunInput
    expected_output: Any = None
    metadata: dict[str, Any] | None = None
    evaluators: list[Evaluator] = Field(default_factory=list[Evaluator], max_length=MAX_EVALUATORS)

    @field_validator("input")
    @classmethod
    def _input_not_empty(cls, value: str | list[Any]) -> str | list[Any]:
        if isinstance(value, str):
            if not value.strip():
                raise ValueError("input must not be empty")
            if len(value) > MAX_TEXT_CHARS:
                raise ValueError(f"input is longer than {MAX_TEXT_CHARS} characters")
        elif not value or len(value) > 32:
            raise ValueError("input has 1 to 32 parts")
        return value


def _check_cases(cases: list[EvalCase]) -> list[EvalCase]:
    names = [c.name for c in cases]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"case names must be unique; repeated: {', '.join(duplicates[:5])}")
    return cases


class EvalDatasetCreate(BaseModel):
    """``POST /eval-datasets``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    cases: list[EvalCase] = Field(min_length=1, max_length=MAX_CASES)
    evaluators: list[Evaluator] = Field(
        default_factory=list[Evaluator], max_length=MAX_EVALUATORS, description="Applied to every case."
    )

    _unique = field_validator("cases")(_check_cases)


class EvalDatasetUpdate(BaseModel):
    """``PATCH /eval-datasets/{id}``: the fields given replace the stored ones (a null
    ``description`` clears it; the other fields cannot be null)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=some_field)

    name: str | None = Field(default=None, min_length=1, max_length=200, json_schema_extra=not_null)
    description: str | None = Field(default=None, max_length=2000)
    cases: list[EvalCase] | None = Field(
        default=None, min_length=1, max_length=MAX_CASES, json_schema_extra=not_null
    )
    evaluators: list[Evaluator] | None = Field(
        default=None, max_length=MAX_EVALUATORS, json_schema_extra=not_null
    )

    @field_validator("cases")
    @classmethod
    def _unique(cls, value: list[EvalCase] | None) -> list[EvalCase] | None:
        return None if value is None else _check_cases(value)

    @model_validator(mode="after")
    def _something(self) -> EvalDatasetUpdate:
        if not self.model_fields_set:
            raise ValueError("nothing to update")
        for name in self.model_fields_set & {"name", "cases", "evaluators"}:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class EvalDatasetImport(BaseModel):
    """``POST /eval-datasets/import``: a pydantic-evals dataset file's text (YAML or JSON)."""

    model_config = ConfigDict(extra="forbid")

    content: str = Field(min_length=1, max_length=MAX_DATASET_BYTES)
    name: str | None = Field(default=None, min_length=1, max_length=200, description="Overrides the file's.")
    description: str = Field(default="", max_length=2000)


class EvalDatasetSummary(BaseModel):
    id: str
    owner_id: str
    name: str
    description: str = ""
    case_count: int
    public: bool = False
    listing_id: str | None = None
    revision: int = 1
    created_at: datetime
    updated_at: datetime


class EvalDatasetPublic(EvalDatasetSummary):
    cases: list[EvalCase]
    evaluators: list[Evaluator] = Field(default_factory=list[Evaluator])


class EvalDatasetRecord(EvalDatasetPublic):
    model_config = ConfigDict(extra="allow")

    def as_public(self) -> EvalDatasetPublic:
        return EvalDatasetPublic.model_validate({k: getattr(self, k) for k in EvalDatasetPublic.model_fields})

    def summary(self) -> EvalDatasetSummary:
        return EvalDatasetSummary.model_validate(
            {k: getattr(self, k) for k in EvalDatasetSummary.model_fields}
        )


EvalDatasetPage = Page[EvalDatasetSummary]
DatasetListQuery = PageQuery


def dataset_ref(dataset_id: str) -> Any:
    return db.collection(DATASETS).document(dataset_id)


def not_found(dataset_id: str) -> NotFound:
    return NotFound(f"eval dataset '{dataset_id}' not found", details={"dataset_id": dataset_id})


def _doc(record: EvalDatasetRecord) -> dict[str, Any]:
    doc = record.model_dump(mode="json", by_alias=True, exclude={"id", "created_at", "updated_at"})
    doc["created_at"] = record.created_at
    doc["updated_at"] = record.updated_at
    if len(json.dumps(doc, default=str)) > MAX_DATASET_BYTES:
        raise ValidationFailed.field("cases", f"the dataset is larger than {MAX_DATASET_BYTES} bytes of JSON")
    return doc


def load(dataset_id: str) -> EvalDatasetRecord | None:
    return db.load(DATASETS, dataset_id, EvalDatasetRecord)


def readable(principal: Principal | None, dataset_id: str) -> EvalDatasetRecord:
    """The caller's dataset, or a public one (404 otherwise)."""
    record = load(dataset_id)
    if record is None or not (
        record.public or (principal is not None and record.owner_id == principal.user_id)
    ):
        raise not_found(dataset_id)
    return record


def owned(principal: Principal, dataset_id: str) -> EvalDatasetRecord:
    record = load(dataset_id)
    if record is None or record.owner_id != principal.user_id:
        raise not_found(dataset_id)
    return record


def create(principal: Principal, body: EvalDatasetCreate) -> EvalDatasetPublic:
    now = datetime.now(UTC)
    record = EvalDatasetRecord(
        id=uuid.uuid4().hex,
        owner_id=principal.user_id,
        name=body.name,
        description=body.description,
        cases=body.cases,
        evaluators=body.evaluators,
        case_count=len(body.cases),
        created_at=now,
        updated_at=now,
    )
    db.create(dataset_ref(record.id), _doc(record))
    return record.as_public()


def update(principal: Principal, dataset_id: str, body: EvalDatasetUpdate) -> EvalDatasetPublic:
    ref = dataset_ref(dataset_id)
    if not db.is_valid_doc_id(dataset_id):
        raise not_found(dataset_id)

    def change(tx: db.Tx) -> EvalDatasetRecord:
        snap = tx.get(ref)
        data = snap.to_dict() if snap.exists else None
        if not data or data.get("owner_id") != principal.user_id:
            raise not_found(dataset_id)
        record = EvalDatasetRecord.model_validate({**data, "id": dataset_id})
        updates = {name: getattr(body, name) for name in body.model_fields_set}
        if "description" in updates and updates["description"] is None:
            updates["description"] = ""
        record = record.model_copy(
            update={**updates, "revision": record.revision + 1, "updated_at": datetime.now(UTC)}
        )
        record.case_count = len(record.cases)
        tx.set(ref, _doc(record))
        return record

    return db.run_transaction(change).as_public()


def delete(principal: Principal, dataset_id: str) -> None:
    record = owned(principal, dataset_id)
    if record.listing_id:
        raise Conflict(
            "the dataset verifies a marketplace listing; detach it first",
            code="dataset_in_use",
            details={"listing_id": record.listing_id},
        )
    db.delete(dataset_ref(dataset_id))


def list_mine(principal: Principal, *, limit: int, cursor: str | None) -> EvalDatasetPage:
    items, next_cursor = newest_first(
        db.collection(DATASETS),
        equals={"owner_id": principal.user_id},
        limit=limit,
        cursor=cursor,
        parse=lambda doc_id, data: EvalDatasetRecord.model_validate({**data, "id": doc_id}).summary(),
        position=lambda item: (item.created_at, item.id),
    )
    return EvalDatasetPage(items=items, next_cursor=next_cursor)


def import_dataset(principal: Principal, body: EvalDatasetImport) -> EvalDatasetPublic:
    from shared.evals.interchange import dataset_from_document, parse_content

    fields = dataset_from_document(parse_content(body.content))
    if body.name:
        fields["name"] = body.name
    fields["description"] = body.description
    try:
        create_body = EvalDatasetCreate.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise ValidationFailed.field(f"content.{loc}", first["msg"]) from None
    return create(principal, create_body)


def export_dataset(principal: Principal | None, dataset_id: str) -> dict[str, Any]:
    """The dataset as a pydantic-evals dataset document (``Dataset.from_dict``/``from_file``)."""
    from shared.evals.interchange import dataset_to_document

    record = readable(principal, dataset_id)
    stored = record.model_dump(mode="json", by_alias=True)
    return dataset_to_document(record.name, stored["cases"], stored["evaluators"])
