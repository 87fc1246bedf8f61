"""``agentctl webhooks``: signed webhook endpoints and their delivery log."""

from __future__ import annotations

import argparse
from typing import Any

from agentctl import render
from agentctl.api import Client
from agentctl.commands import Commands

ORDER = 70

_COLUMNS = [
    ("ID", "id"),
    ("STATUS", "status"),
    ("URL", "url"),
    ("EVENTS", "events"),
    ("FAILING SINCE", "failing_since"),
]
_DELIVERY_COLUMNS = [
    ("ID", "id"),
    ("EVENT", "event_type"),
    ("STATUS", "status"),
    ("ATTEMPTS", "attempts"),
    ("CODE", "last_response_code"),
    ("MS", "last_latency_ms"),
    ("ERROR", "last_error"),
    ("NEXT ATTEMPT", "next_attempt_at"),
    ("CREATED", "created_at"),
]
EVENTS = (
    "run.completed",
    "run.failed",
    "run.cancelled",
    "run.requires_action",
    "batch.completed",
    "schedule.paused",
    "webhook.disabled",
)


def _show(webhook: dict[str, Any], secret: str | None = None) -> None:
    pairs: list[tuple[str, Any]] = [
        ("id", webhook.get("id")),
        ("url", webhook.get("url")),
        ("events", webhook.get("events")),
        ("status", webhook.get("status")),
    ]
    if webhook.get("disabled_reason"):
        pairs.append(("disabled", f"{webhook['disabled_reason']} at {webhook.get('disabled_at')}"))
    if webhook.get("failing_since"):
        pairs.append(("failing since", webhook["failing_since"]))
    if webhook.get("previous_secret_expires_at"):
        pairs.append(("old secret until", webhook["previous_secret_expires_at"]))
    if webhook.get("description"):
        pairs.append(("description", webhook["description"]))
    if secret:
        pairs.append(("secret", secret))
    render.fields(pairs)
    if secret:
        render.info("store the secret now: it is not shown again")


def _created(args: argparse.Namespace, created: dict[str, Any]) -> int:
    if args.json:
        render.print_json(created)
    else:
        _show(created["webhook"], created["secret"])
    return 0


def cmd_create(args: argparse.Namespace, client: Client) -> int:
    body = {"url": args.url, "events": args.event, "description": args.description or ""}
    return _created(args, client.post("/webhooks", json=body))


def cmd_list(args: argparse.Namespace, client: Client) -> int:
    hooks = list(client.paginate("/webhooks", limit=args.limit))
    if args.json:
        render.print_json(hooks)
    else:
        render.table(hooks, _COLUMNS, empty="no webhooks")
    return 0


def cmd_show(args: argparse.Namespace, client: Client) -> int:
    webhook = client.get(f"/webhooks/{args.webhook}")
    if args.json:
        render.print_json(webhook)
    else:
        _show(webhook)
    return 0


def _patch(args: argparse.Namespace, client: Client, body: dict[str, Any]) -> int:
    webhook = client.call("PATCH", f"/webhooks/{args.webhook}", json=body)
    if args.json:
        render.print_json(webhook)
    else:
        _show(webhook)
    return 0


def cmd_update(args: argparse.Namespace, client: Client) -> int:
    body: dict[str, Any] = {}
    if args.url:
        body["url"] = args.url
    if args.event:
        body["events"] = args.event
    if args.description is not None:
        body["description"] = args.description
    return _patch(args, client, body)


def cmd_disable(args: argparse.Namespace, client: Client) -> int:
    return _patch(args, client, {"enabled": False})


def cmd_enable(args: argparse.Namespace, client: Client) -> int:
    return _patch(args, client, {"enabled": True})


def cmd_delete(args: argparse.Namespace, client: Client) -> int:
    client.call("DELETE", f"/webhooks/{args.webhook}")
    render.info(f"deleted webhook {args.webhook}")
    return 0


def cmd_rotate(args: argparse.Namespace, client: Client) -> int:
    return _created(args, client.post(f"/webhooks/{args.webhook}/rotate-secret"))


def cmd_test(args: argparse.Namespace, client: Client) -> int:
    delivery = client.post(f"/webhooks/{args.webhook}/test")
    if args.json:
        render.print_json(delivery)
    else:
        render.table([delivery], _DELIVERY_COLUMNS)
    return 0 if delivery.get("status") == "succeeded" else 1


def cmd_deliveries(args: argparse.Namespace, client: Client) -> int:
    items = list(client.paginate(f"/webhooks/{args.webhook}/deliveries", limit=args.limit))
    if args.json:
        render.print_json(items)
    else:
        render.table(items, _DELIVERY_COLUMNS, empty="no deliveries yet")
    return 0


def cmd_redeliver(args: argparse.Namespace, client: Client) -> int:
    delivery = client.post(f"/webhooks/{args.webhook}/deliveries/{args.delivery}/redeliver")
    if args.json:
        render.print_json(delivery)
    else:
        render.info(f"delivery {delivery['id']} queued again")
    return 0


def register(cli: Commands) -> None:
    group = cli.group("webhooks", "signed webhook endpoints (Standard Webhooks)")
    create = group.command("create", cmd_create, "register an endpoint; prints its secret once")
    create.add_argument("--url", required=True, help="https URL receiving the events")
    create.add_argument("--event", action="append", required=True, choices=EVENTS, help="repeatable")
    create.add_argument("--description")
    group.command("list", cmd_list, "your endpoints").add_argument("--limit", type=int)
    group.command("show", cmd_show, "one endpoint").add_argument("webhook")
    update = group.command("update", cmd_update, "change an endpoint's URL, events or description")
    update.add_argument("webhook")
    update.add_argument("--url")
    update.add_argument("--event", action="append", choices=EVENTS)
    update.add_argument("--description")
    group.command("pause", cmd_disable, "stop sending to an endpoint").add_argument("webhook")
    group.command("resume", cmd_enable, "send to a paused or disabled endpoint again").add_argument("webhook")
    group.command("delete", cmd_delete, "delete an endpoint and its log").add_argument("webhook")
    group.command("rotate-secret", cmd_rotate, "new secret; the old one signs too for 24 h").add_argument(
        "webhook"
    )
    group.command("test", cmd_test, "send a webhook.test event now").add_argument("webhook")
    deliveries = group.command("deliveries", cmd_deliveries, "the delivery log, newest first")
    deliveries.add_argument("webhook")
    deliveries.add_argument("--limit", type=int, default=20)
    redeliver = group.command("redeliver", cmd_redeliver, "send a delivery again (same webhook-id)")
    redeliver.add_argument("webhook")
    redeliver.add_argument("delivery")
