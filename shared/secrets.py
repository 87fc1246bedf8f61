"""Secret Manager access, imported only when a secret is not in the environment."""

from __future__ import annotations

import functools

from shared.errors import ConfigurationError


@functools.cache
def read_secret(name: str, version: str = "latest") -> str:
    """The payload of secret ``name``; cached for the life of the instance."""
    from google.api_core import exceptions as gexc
    from google.cloud import secretmanager

    from shared.settings import get_settings

    client = secretmanager.SecretManagerServiceClient()
    path = client.secret_version_path(get_settings().gcp_project, name, version)
    try:
        response = client.access_secret_version(name=path, timeout=10)  # pyright: ignore[reportUnknownMemberType]
    except gexc.NotFound:
        raise ConfigurationError(f"secret {name!r} does not exist", details={"secret": name}) from None
    except gexc.PermissionDenied:
        raise ConfigurationError(f"no access to secret {name!r}", details={"secret": name}) from None
    return response.payload.data.decode("utf-8")
