"""register, login, logout, whoami."""

from __future__ import annotations

import argparse

from agentctl import render
from agentctl.api import Client, CliError
from agentctl.commands import Commands
from agentctl.commands._shared import read_password

ORDER = 10


def cmd_register(args: argparse.Namespace, client: Client) -> int:
    password = read_password(args, confirm=True)
    user = client.post(
        "/auth/register",
        json={"username": args.username, "email": args.email, "password": password},
        auth=False,
    )
    if args.login:
        client.login(args.username, password)
    if args.json:
        render.print_json(user)
    else:
        render.info(f"registered {user['username']} ({user['id']})" + ("; logged in" if args.login else ""))
    return 0


def cmd_login(args: argparse.Namespace, client: Client) -> int:
    if args.with_token:
        import sys

        token = sys.stdin.readline().strip()
        if not token:
            raise CliError("no token on stdin (create one with `agentctl tokens create`)")
        user = client.login_with_token(token)
        if args.json:
            render.print_json({"username": user.get("username"), "base_url": client.base_url})
        else:
            render.info(
                f"logged in to {client.base_url} as {user.get('username')} with a personal access token"
            )
        return 0
    username = args.username or input("Username: ")
    client.login(username, read_password(args))
    if args.json:
        render.print_json({"username": username, "base_url": client.base_url})
    else:
        render.info(f"logged in to {client.base_url} as {username}")
    return 0


def cmd_logout(args: argparse.Namespace, client: Client) -> int:
    client.logout()
    if not args.json:
        render.info(f"logged out of {client.base_url}")
    return 0


def cmd_whoami(args: argparse.Namespace, client: Client) -> int:
    user = client.get("/auth/me")
    if args.json:
        render.print_json(user)
    else:
        render.fields(
            [
                ("username", user.get("username")),
                ("id", user.get("id")),
                ("email", user.get("email")),
                ("role", user.get("role")),
                ("base url", client.base_url),
            ]
        )
    return 0


def _password_flag(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from stdin (else env AGENTCTL_PASSWORD, else a prompt)",
    )


def register(cli: Commands) -> None:
    sub = cli.command("register", cmd_register, "create an account")
    sub.add_argument("--username", "-u", required=True)
    sub.add_argument("--email", required=True)
    sub.add_argument("--login", action="store_true", help="log in right after registering")
    _password_flag(sub)

    sub = cli.command("login", cmd_login, "log in and store tokens in the config dir")
    sub.add_argument("--username", "-u")
    sub.add_argument(
        "--with-token",
        action="store_true",
        help="read a personal access token from stdin and store it instead of logging in with a password",
    )
    _password_flag(sub)
    cli.command("logout", cmd_logout, "revoke the refresh token and forget the stored tokens")
    cli.command("whoami", cmd_whoami, "show the logged-in user")
