"""The ``--project`` option of the one-off operator scripts (they run with your own ADC)."""

from __future__ import annotations

import argparse
import os
import sys


def parse_args_with_project(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Parse ``argv`` with a ``--project`` option that sets ``GOOGLE_CLOUD_PROJECT``; exit if
    neither names the project."""
    parser.add_argument("--project", help="default: $GOOGLE_CLOUD_PROJECT")
    args = parser.parse_args(argv)
    if args.project:
        os.environ["GOOGLE_CLOUD_PROJECT"] = args.project
    if not os.environ.get("GOOGLE_CLOUD_PROJECT"):
        sys.exit("set --project or GOOGLE_CLOUD_PROJECT")
    return args
