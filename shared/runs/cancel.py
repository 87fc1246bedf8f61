"""``POST /runs/{id}/cancel``: a queued or paused (``requires_action``) run ends ``cancelled`` at
once; a running one is flagged.

The flag (``cancel_requested``) is read by the run's ``should_cancel`` between agent steps
(model request, tool calls), so the run stops at its next step and ends ``cancelled`` with
the usage so far. Finished runs → 409 ``run_finished``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.runs import claim

if TYPE_CHECKING:
    from shared.auth.principal import Principal
    from shared.runs.schemas import RunPublic


def cancel_run(principal: Principal, run_id: str) -> RunPublic:
    """Cancel the caller's run (404 if not theirs, 409 if finished); returns the run."""
    from shared import aio

    if principal.agent_ids is not None:
        from shared.runs.repository import get_run_for

        get_run_for(principal, run_id)  # 403 agent_not_allowed before anything changes
    record, closed = claim.request_cancel(run_id, principal.user_id)
    if closed:
        if record.session_id is not None:
            # A paused run kept its session while it waited.
            from shared.sessions.repository import release_lease

            release_lease(record.session_id, record.id)
        aio.run(claim.announce_closed(record))
    return record.public()
