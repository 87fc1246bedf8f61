"""Reserve the names of agents stored before names were unique per owner (run once after
deploying that change; safe to run again):

    GOOGLE_CLOUD_PROJECT=<project> .venv/bin/python -m tools.backfill_agent_names

Runs with your own Application Default Credentials (Firestore access, e.g.
roles/datastore.user). Names two live agents of one owner already share are listed, not
changed: the agent holding the reservation keeps the name (if neither did, the older);
ask the owner to rename the other.
"""

from __future__ import annotations

import argparse
import sys

from tools._project import parse_args_with_project


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Reserve the names of pre-existing agents.")
    parse_args_with_project(parser, argv)
    from shared.agents.names import backfill

    report = backfill()
    print(
        f"{report.agents} live agents: {report.reserved} names reserved now, "
        f"{report.already_reserved} already reserved, {len(report.duplicates)} shared names"
    )
    for owner_id, name, holder, other in report.duplicates:
        print(f"  owner {owner_id}: '{name}' is held by agent {holder}; agent {other} has the same name")
    return 1 if report.duplicates else 0


if __name__ == "__main__":
    sys.exit(main())
