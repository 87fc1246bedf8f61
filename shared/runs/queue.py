"""Run messages on Pub/Sub: run requests for the worker, and finished runs for downstream pipelines.

A run-request message is ``{"run_id": ...}`` (attribute ``run_id``); async runs of one session
carry the session id as ordering key, so the push subscription (message ordering enabled)
delivers them one at a time, in order. Trusted publishers may instead publish a full request
(``shared.worker`` turns it into a run record).

Every finished run is published to the run-results topic: data = the run object (JSON),
attributes ``run_id``, ``status``, ``owner_id`` (and ``batch_id`` for batch runs).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from concurrent import futures
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.errors import ServiceUnavailable
from shared.settings import get_settings

if TYPE_CHECKING:
    from shared.runs.schemas import RunPublic

_log = logging.getLogger(__name__)

RESULT_PUBLISH_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class RunMessage:
    """One run-request message to publish."""

    run_id: str
    ordering_key: str = ""


def _publisher() -> Any:
    from shared.clients import publisher

    return publisher()


def _topic(name: str) -> str:
    from shared.clients import topic_path

    return topic_path(name)


def _submit(topic: str, message: RunMessage) -> Any:
    data = json.dumps({"run_id": message.run_id}).encode()
    return _publisher().publish(topic, data, ordering_key=message.ordering_key, run_id=message.run_id)


def _recover(topic: str, message: RunMessage) -> None:
    # A failed publish pauses its ordering key until resumed; later runs of the session need it.
    if message.ordering_key:
        try:
            _publisher().resume_publish(topic, message.ordering_key)
        except Exception:
            _log.warning("could not resume an ordering key", exc_info=True)


def publish_runs(messages: Sequence[RunMessage]) -> list[str]:
    """Publish run requests in parallel; returns the run ids whose publish failed.

    Waits for every future (bounded by ``RUN_PUBLISH_TIMEOUT_SECONDS`` overall).
    """
    if not messages:
        return []
    topic = _topic(get_settings().run_requests_topic)
    timeout = get_settings().run_publish_timeout_seconds
    pending: dict[Any, RunMessage] = {}
    failed: list[str] = []
    for message in messages:
        try:
            pending[_submit(topic, message)] = message
        except Exception:
            _log.warning("run message not accepted", extra={"run_id": message.run_id}, exc_info=True)
            _recover(topic, message)
            failed.append(message.run_id)
    done, not_done = futures.wait(list(pending), timeout=timeout)
    for future in done:
        if future.exception() is not None:
            message = pending[future]
            _log.warning("run message publish failed", extra={"run_id": message.run_id})
            _recover(topic, message)
            failed.append(message.run_id)
    for future in not_done:
        message = pending[future]
        _log.warning("run message publish timed out", extra={"run_id": message.run_id})
        future.cancel()
        _recover(topic, message)
        failed.append(message.run_id)
    return failed


def publish_run(message: RunMessage) -> None:
    """Publish one run request; ``ServiceUnavailable`` if Pub/Sub did not accept it in time."""
    if publish_runs([message]):
        raise ServiceUnavailable("the run queue is unavailable", retry_after=5)


def publish_result(run: RunPublic) -> None:
    """Publish a finished run to the results topic. Never raises (the run is already stored)."""
    try:
        attributes = {"run_id": run.id, "status": run.status, "owner_id": run.owner_id}
        if run.batch_id:
            attributes["batch_id"] = run.batch_id
        if run.schedule_id:
            attributes["schedule_id"] = run.schedule_id
        data = run.model_dump_json().encode()
        future = _publisher().publish(_topic(get_settings().run_results_topic), data, **attributes)
        future.result(timeout=RESULT_PUBLISH_TIMEOUT_SECONDS)
    except Exception:
        _log.warning("could not publish a run result", extra={"run_id": run.id}, exc_info=True)
