"""Wait until each URL answers (the emulator containers of the Cloud Build test step)."""

from __future__ import annotations

import sys
import time
import urllib.error
import urllib.request

TIMEOUT_SECONDS = 180


def wait(url: str, timeout: float = TIMEOUT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            if time.monotonic() > deadline:
                sys.exit(f"{url} did not start within {timeout:.0f} s")
            time.sleep(2)


def main(argv: list[str]) -> None:
    for url in argv:
        wait(url)


if __name__ == "__main__":
    main(sys.argv[1:])
