"""Keeping a run's lease alive while an instance executes it.

Every executing run — claimed by the worker, or a sync/stream run in its HTTP request — holds
a lease (``lease_token``, ``lease_expires_at``; ``shared.runs.lifecycle``). The holder renews it
every third of ``RUN_LEASE_SECONDS``, so a valid lease means a live instance: a worker that
finds the lease expired takes the run over, and the sweep ends (or continues) sync/stream runs
whose instance died.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.settings import get_settings

_log = logging.getLogger(__name__)


def new_lease() -> dict[str, Any]:
    """Fields of a fresh lease for a run an instance starts executing now."""
    seconds = get_settings().run_lease_seconds
    return {
        "lease_token": uuid.uuid4().hex,
        "lease_expires_at": datetime.now(UTC) + timedelta(seconds=seconds),
    }


class LeaseKeeper:
    """Renews the holder's lease every third of its length while the run executes."""

    def __init__(self, run_id: str, token: str, lease_seconds: float | None = None) -> None:
        self.run_id = run_id
        self.token = token
        self.lease_seconds = float(lease_seconds or get_settings().run_lease_seconds)
        self.lost = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._renew())

    async def _renew(self) -> None:
        from shared.runs.claim import renew_lease

        while True:
            await asyncio.sleep(max(1.0, self.lease_seconds / 3))
            try:
                ours = await asyncio.to_thread(renew_lease, self.run_id, self.token, self.lease_seconds)
            except Exception:
                _log.warning("lease renewal failed", extra={"run_id": self.run_id}, exc_info=True)
                continue
            if not ours:
                self.lost = True
                return

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
