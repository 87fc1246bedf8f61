"""The `worker` Cloud Function: executes async runs delivered by Pub/Sub."""

from __future__ import annotations

import functions_framework
from cloudevents.http.event import CloudEvent


@functions_framework.cloud_event
def run_worker(event: CloudEvent) -> None:
    from shared.worker import handle_run_event

    handle_run_event(event)
