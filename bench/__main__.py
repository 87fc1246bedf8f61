"""Entry point of ``make bench`` (filled in by the benchmarks issue)."""

from __future__ import annotations


def main() -> None:
    raise SystemExit("the benchmark suite is not built yet")


if __name__ == "__main__":
    main()
