"""Lazily created, reused Google Cloud clients (nothing network-bound at import)."""

from __future__ import annotations

import functools
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from google.cloud import firestore
    from google.cloud.pubsub_v1 import PublisherClient, SubscriberClient  # pyright: ignore[reportMissingTypeStubs]


@functools.cache
def firestore_client() -> firestore.Client:
    from google.cloud import firestore

    from shared.settings import get_settings

    settings = get_settings()
    if settings.firestore_emulator_host:
        # The emulator needs no credentials; anonymous ones avoid an ADC lookup offline.
        from google.auth.credentials import AnonymousCredentials

        return firestore.Client(
            project=settings.gcp_project,
            database=settings.firestore_database,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        )
    return firestore.Client(project=settings.gcp_project, database=settings.firestore_database)


_publisher_lock = threading.Lock()


def publisher() -> PublisherClient:
    # Locked: a warm-up thread (shared.runs.runner) and a request must not each create one.
    with _publisher_lock:
        return _new_publisher()


@functools.cache
def _new_publisher() -> PublisherClient:
    from google.cloud import pubsub_v1  # pyright: ignore[reportMissingTypeStubs]

    # Ordering keys keep async runs of one session in order. Callers wait for each publish
    # (POST /runs async, run results), so the default 10 ms batching delay would be added
    # to every request; 2 ms still batches a fan-out published in a loop.
    return pubsub_v1.PublisherClient(
        batch_settings=pubsub_v1.types.BatchSettings(max_latency=0.002),
        publisher_options=pubsub_v1.types.PublisherOptions(enable_message_ordering=True),
    )


@functools.cache
def subscriber() -> SubscriberClient:
    from google.cloud import pubsub_v1  # pyright: ignore[reportMissingTypeStubs]

    return pubsub_v1.SubscriberClient()


def topic_path(topic: str) -> str:
    from shared.settings import get_settings

    return f"projects/{get_settings().gcp_project}/topics/{topic}"


def has_publisher() -> bool:
    return _new_publisher.cache_info().currsize > 0


def reset_clients() -> None:
    """Drop cached clients (tests point them at fresh emulators)."""
    firestore_client.cache_clear()
    _new_publisher.cache_clear()
    subscriber.cache_clear()
