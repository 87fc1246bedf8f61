"""Standard Webhooks secrets and signatures (the ``standardwebhooks`` library signs).

A secret is ``whsec_`` + base64 of 32 random bytes. Every delivery carries ``webhook-id``
(the event's stable id), ``webhook-timestamp`` (Unix seconds of this attempt) and
``webhook-signature``: ``v1,<base64 HMAC-SHA256>`` per active secret, space-separated, so
after a rotation receivers holding either the new or the old secret verify it.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable
from datetime import datetime

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signature_headers(
    webhook_id: str, payload: str, signing_secrets: Iterable[str], at: datetime
) -> dict[str, str]:
    from standardwebhooks.webhooks import Webhook

    signatures = [Webhook(secret).sign(webhook_id, at, payload) for secret in signing_secrets]
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(signatures),
        "content-type": "application/json",
        "user-agent": "agents-service-webhooks/1",
    }
