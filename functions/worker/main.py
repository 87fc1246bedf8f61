"""The `worker` Cloud Function: executes async runs delivered by Pub/Sub (see shared/worker.py).

Returning acks the message; raising makes Pub/Sub redeliver it (then dead-letter it).
"""

from __future__ import annotations

import functions_framework
from cloudevents.http.event import CloudEvent


@functions_framework.cloud_event
def run_worker(event: CloudEvent) -> None:
    from shared.logs import configure_logging
    from shared.worker import handle_run_event

    configure_logging()
    handle_run_event(event)
