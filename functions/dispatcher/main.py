"""The `dispatcher` Cloud Function: webhook deliveries and schedule ticks (see shared/dispatcher.py).

Pushed by Pub/Sub from run-results, webhook-deliveries (+ its dead-letter topic) and
schedule-ticks. Returning acks the message; raising makes Pub/Sub redeliver it.
"""

from __future__ import annotations

import functions_framework
from cloudevents.http.event import CloudEvent


@functions_framework.cloud_event
def dispatch_event(event: CloudEvent) -> None:
    from shared.dispatcher import handle_event
    from shared.logs import configure_logging

    configure_logging()
    handle_event(event)
