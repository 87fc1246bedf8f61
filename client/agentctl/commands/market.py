"""``agentctl market``: the agent marketplace."""

from __future__ import annotations

import argparse
import sys
import uuid
from pathlib import Path
from typing import Any

from agentctl import render
from agentctl.api import Client, CliError
from agentctl.commands import Commands
from agentctl.commands._shared import print_agent_line, resolve_agent

ORDER = 60


_LISTING_COLUMNS = [
    ("ID", "id"),
    ("NAME", "name"),
    ("CATEGORY", "category"),
    ("RATING", "stats.rating_avg"),
    ("RATINGS", "stats.rating_count"),
    ("INSTALLS", "stats.installs"),
    ("BY", "owner_username"),
    ("SUMMARY", "summary"),
]


def cmd_market_search(args: argparse.Namespace, client: Client) -> int:
    params = {
        "q": " ".join(args.query) or None,
        "tags": ",".join(args.tag) if args.tag else None,
        "category": args.category,
        "sort": args.sort,
    }
    listings = list(client.paginate("/marketplace/listings", params=params, limit=args.limit, auth=None))
    if args.json:
        render.print_json(listings)
    else:
        render.table(listings, _LISTING_COLUMNS, empty="no listings match")
    return 0


def cmd_market_show(args: argparse.Namespace, client: Client) -> int:
    listing = client.get(f"/marketplace/listings/{args.listing}", auth=None)
    if args.json:
        render.print_json(listing)
        return 0
    stats = listing.get("stats") or {}
    definition = listing.get("definition") or {}
    model = definition.get("model") or {}
    render.fields(
        [
            ("id", listing.get("id")),
            ("name", listing.get("display_name") or listing.get("name")),
            ("by", listing.get("owner_username")),
            ("version", listing.get("version")),
            ("category", listing.get("category")),
            ("tags", listing.get("tags")),
            ("summary", listing.get("summary")),
            ("description", listing.get("description")),
            ("model", f"{model.get('provider')}/{model.get('name')}" if model else None),
            ("tools", [t.get("name") for t in definition.get("tools") or []]),
            ("rating", f"{stats.get('rating_avg') or 0:.2f} ({stats.get('rating_count', 0)} ratings)"),
            ("installs", stats.get("installs")),
            ("runs", stats.get("runs")),
            ("success rate", stats.get("success_rate")),
            ("p50 latency ms", stats.get("p50_latency_ms")),
            ("avg cost usd", stats.get("avg_cost_usd")),
            ("published", listing.get("published_at")),
        ]
    )
    return 0


def cmd_market_install(args: argparse.Namespace, client: Client) -> int:
    agent = client.post(
        f"/marketplace/listings/{args.listing}/install",
        params={"name": args.name} if args.name else None,
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    if args.json:
        render.print_json(agent)
    else:
        sys.stdout.write(f"{agent['id']}\n")
        print_agent_line("installed", agent)
    return 0


def cmd_market_download(args: argparse.Namespace, client: Client) -> int:
    import json

    bundle = client.get(f"/marketplace/listings/{args.listing}/download", auth=None)
    text = json.dumps(bundle, indent=2, ensure_ascii=False) + "\n"
    if args.output in (None, "-"):
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
        digest = bundle.get("sha256") if isinstance(bundle, dict) else None
        render.info(f"bundle written to {args.output}" + (f" (sha256 {digest})" if digest else ""))
    return 0


def cmd_market_rate(args: argparse.Namespace, client: Client) -> int:
    if not 1 <= args.stars <= 5:
        raise CliError("stars must be between 1 and 5")
    body: dict[str, Any] = {"stars": args.stars}
    if args.review:
        body["review"] = args.review
    rating = client.call("PUT", f"/marketplace/listings/{args.listing}/ratings/me", json=body)
    if args.json:
        render.print_json(rating)
    else:
        render.info(f"rated {args.listing}: {args.stars} stars")
    return 0


def cmd_market_publish(args: argparse.Namespace, client: Client) -> int:
    body: dict[str, Any] = {
        "agent_id": resolve_agent(client, args.agent),
        "category": args.category,
        "tags": args.tag,
    }
    if args.summary:
        body["summary"] = args.summary
    listing = client.post("/marketplace/listings", json=body)
    if args.json:
        render.print_json(listing)
    else:
        sys.stdout.write(f"{listing['id']}\n")
        render.info(
            f"published {listing.get('name')} version {listing.get('version')} as listing {listing['id']}"
        )
    return 0


def cmd_market_unpublish(args: argparse.Namespace, client: Client) -> int:
    client.call("DELETE", f"/marketplace/listings/{args.listing}")
    if not args.json:
        render.info(f"removed listing {args.listing}")
    return 0


def cmd_market_categories(args: argparse.Namespace, client: Client) -> int:
    categories = client.get("/marketplace/categories", auth=None)
    items = categories.get("items", categories) if isinstance(categories, dict) else categories
    if args.json:
        render.print_json(items)
    else:
        rows = [item if isinstance(item, dict) else {"id": item} for item in items]
        columns = [("ID", "id"), ("NAME", "name")] + [
            (key.upper(), key) for key in ("listings", "count") if any(key in row for row in rows)
        ]
        render.table(rows, columns, empty="no categories")
    return 0


def register(cli: Commands) -> None:
    market = cli.group("market", "the agent marketplace")
    sub = market.command("search", cmd_market_search, "search listings")
    sub.add_argument("query", nargs="*")
    sub.add_argument("--tag", action="append", default=[])
    sub.add_argument("--category")
    sub.add_argument("--sort", choices=["rating", "installs", "recent"])
    sub.add_argument("--limit", type=int, default=20)
    sub = market.command("show", cmd_market_show, "show a listing and its stats")
    sub.add_argument("listing")
    sub = market.command("install", cmd_market_install, "install a listing as your own agent")
    sub.add_argument("listing")
    sub.add_argument(
        "--name", help="install another copy under this name (names are unique among your agents)"
    )
    sub = market.command("download", cmd_market_download, "download a listing's bundle")
    sub.add_argument("listing")
    sub.add_argument("--output", "-o")
    sub = market.command("rate", cmd_market_rate, "rate a listing (1-5 stars)")
    sub.add_argument("listing")
    sub.add_argument("stars", type=int)
    sub.add_argument("--review")
    sub = market.command("publish", cmd_market_publish, "publish an agent's current version")
    sub.add_argument("agent")
    sub.add_argument("--category", required=True)
    sub.add_argument("--tag", action="append", default=[])
    sub.add_argument("--summary")
    sub = market.command("unpublish", cmd_market_unpublish, "remove a listing")
    sub.add_argument("listing")
    market.command("categories", cmd_market_categories, "list categories")
