"""Give an existing user a role, straight in Firestore: how the first admin is made.

    GOOGLE_CLOUD_PROJECT=<project> .venv/bin/python -m tools.grant_role <username> admin

Runs with your own Application Default Credentials (``gcloud auth application-default
login``; you need Firestore access, e.g. roles/datastore.user). Once one admin exists,
further role changes go through ``PATCH /auth/users/{user_id}``.
"""

from __future__ import annotations

import argparse

from tools._project import parse_args_with_project

ROLES = ("user", "moderator", "admin")


def grant_role(username: str, role: str) -> str:
    """Set ``role`` on the user called ``username``; returns the user id."""
    from shared.auth.users import find_user_id_by_username, update_user

    user_id = find_user_id_by_username(username)
    if user_id is None:
        raise SystemExit(f"no user named {username!r}: register it first (POST /auth/register)")
    update_user(user_id, {"role": role})
    return user_id


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Give an existing user a role (e.g. the first admin).")
    parser.add_argument("username")
    parser.add_argument("role", choices=ROLES)
    args = parse_args_with_project(parser, argv)
    user_id = grant_role(args.username, args.role)
    print(f"{args.username} ({user_id}) is now {args.role}")


if __name__ == "__main__":
    main()
