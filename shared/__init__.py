"""Common package imported by every Cloud Function of the agents service.

Nothing here performs network I/O at import time: clients, settings and secrets are
created lazily on first use and reused for the life of the instance.
"""
