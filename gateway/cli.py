"""``ordergraph``: run the demo, the simulated sources, or the gateway; print the schema."""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import msgspec

from gateway.auth.cli import DEFAULT_TIERS, add_keys_commands
from gateway.auth.pepper import check_pepper, generate_pepper
from gateway.event_loop import run_main
from gateway.settings import (
    SOURCE_NAMES,
    Settings,
    SettingsError,
    SourceSettings,
    load_settings,
    redact_url,
)
from resolvers.scopes import ALL_SCOPES, EVERY_ACCOUNT
from sources.adapters.names import FIRST_SOURCE_PORT
from sources.clock import SYSTEM_CLOCK, Clock, ShiftedClock
from sources.webhooks import generate_secret

if TYPE_CHECKING:
    from sim.cluster import SimCluster
    from sim.faults import FaultSpec

EXAMPLE_QUERY = """{{
  orderByNumber(number: "{number}") {{
    name customerStatus promisedDelivery {{ earliest latest }}
    estimatedDelivery {{ earliest latest }}
    shipments {{
      carrier {{ name }} trackingNumber
      tracking {{ status events {{ occurredAt message }} }}
    }}
  }}
}}"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if getattr(args, "fault", None) and not args.vendors:
        from sim.cluster import VENDORS  # already imported to parse --fault

        named = [source for source, _ in args.fault if source in VENDORS]
        if named:
            parser.error(f"--fault {named[0]}:… needs --vendors (it names a vendor API)")
    generated = _generated(args)
    if generated is not None:  # needs no settings: works before any are right
        print(generated)
        return 0
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"ordergraph: {exc}", file=sys.stderr)
        return 2
    # Imported only by the command that runs (start-up time): a secret, the help, or a
    # bad setting or flag is answered in a fraction of the time the stack takes.
    from gateway.observability import configure_logging, configure_tracing

    configure_logging(settings.log_level, settings.log_format)
    try:
        configure_tracing(settings.tracing_exporter, endpoint=settings.otlp_endpoint)
    except ValueError as exc:
        print(f"ordergraph: {exc}", file=sys.stderr)
        return 2
    if args.command == "export-schema":
        sys.stdout.write(schema_sdl())
        return 0
    if args.command == "keys":
        return _keys(args, settings)
    try:
        if args.command == "serve":
            return _serve(args, settings)
        if args.command == "sim":
            run_main(_sim(args))
        else:
            run_main(_demo(args, settings))
    except SettingsError as exc:  # start-up refused what cannot work
        print(f"ordergraph: {exc}", file=sys.stderr)
        return 2
    return 0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    """``serve``: refuse what cannot work (a ``SettingsError``) before the stack is
    imported and the port bound, then run one process or a supervisor of workers."""
    from gateway.startup import check_startup
    from gateway.workers import run_workers, worker_count

    settings = msgspec.structs.replace(
        settings,
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=args.workers or settings.workers,
    )
    workers = worker_count(settings)
    run_main(check_startup(settings))
    if workers > 1:
        return run_workers(settings, workers)
    from gateway.server import serve_on

    run_main(serve_on(settings))
    return 0


def _generated(args: argparse.Namespace) -> str | None:
    """A fresh secret, for ``keys pepper`` and ``webhooks secret``; None otherwise."""
    if args.command == "keys" and args.keys_command == "pepper":
        return generate_pepper()
    if args.command == "webhooks" and args.webhooks_command == "secret":
        return generate_secret()
    return None


def schema_sdl() -> str:
    from resolvers.schema import build_schema

    return build_schema().as_str() + "\n"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ordergraph", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="simulated sources + gateway, in-memory, one command")
    demo.add_argument(
        "--host",
        default="127.0.0.1",
        help="gateway and source host (default %(default)s; the demo ignores OG_HOST)",
    )
    demo.add_argument(
        "--port",
        type=int,
        default=8000,
        help="gateway port (default %(default)s; the demo ignores OG_PORT)",
    )
    demo.add_argument(
        "--sim-port-base", type=int, help="first of four source ports (default: port + 101)"
    )
    _add_sim_options(demo, latency_ms=3.0, jitter_ms=2.0)

    sim = commands.add_parser("sim", help="only the four simulated sources")
    sim.add_argument(
        "--host", default="127.0.0.1", help="host the sources listen on (default %(default)s)"
    )
    sim.add_argument(
        "--port-base",
        type=int,
        default=FIRST_SOURCE_PORT,
        help="OMS port; inventory, carrier and ticketing follow (default %(default)s)",
    )
    sim.add_argument(
        "--webhook-url",
        help="POST signed change events to <url>/<source>, e.g. a gateway's "
        "(default: none, no events sent)",
    )
    sim.add_argument(
        "--webhook-secret",
        help="Standard Webhooks secret (whsec_…) to sign them with, as in the gateway's "
        "OG_WEBHOOK_SECRETS; needed with --webhook-url (default: none; make one: "
        "ordergraph webhooks secret)",
    )
    _add_sim_options(sim, latency_ms=0.0, jitter_ms=0.0)

    defaults = Settings()
    gateway = commands.add_parser(
        "serve",
        help="the gateway against configured sources",
        epilog="Every setting is an OG_* environment variable or a key in the TOML file "
        "named by OG_CONFIG; serve refuses to start (status 2) on one that cannot work. "
        "All settings: docs/settings.md",
    )
    gateway.add_argument(
        "--host",
        help=f"address to listen on (default: OG_HOST from the settings, {defaults.host})",
    )
    gateway.add_argument(
        "--port",
        type=int,
        help=f"port to listen on (default: OG_PORT from the settings, {defaults.port})",
    )
    gateway.add_argument(
        "--workers",
        type=_positive,
        help="server processes (default: OG_WORKERS from the settings, else one per core; "
        "one with the memory cache, which refuses more)",
    )

    commands.add_parser("export-schema", help="print the GraphQL SDL")
    add_keys_commands(commands)
    webhooks = commands.add_parser("webhooks", help="change-event webhook secrets")
    webhooks_commands = webhooks.add_subparsers(
        dest="webhooks_command", required=True, metavar="COMMAND"
    )
    webhooks_commands.add_parser(
        "secret", help="print a fresh Standard Webhooks secret (whsec_…) for OG_WEBHOOK_SECRETS"
    )
    return parser


def _add_sim_options(
    parser: argparse.ArgumentParser, *, latency_ms: float, jitter_ms: float
) -> None:
    parser.add_argument("--seed", type=int, default=7, help="data set seed (default %(default)s)")
    parser.add_argument(
        "--now",
        type=_instant,
        help="the data set's 'now', ISO 8601 (e.g. 2026-11-20T15:00:00Z; no offset: UTC); "
        "the clock starts there and ticks on, for the sources and (demo) the gateway alike; "
        "the same --seed and --now serve the same data (default: the current time)",
    )
    parser.add_argument(
        "--orders", type=int, default=1200, help="orders in the data set (default %(default)s)"
    )
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=latency_ms,
        help="added to every source response, in ms (default %(default)s)",
    )
    parser.add_argument(
        "--jitter-ms",
        type=float,
        default=jitter_ms,
        help="random extra latency, up to this many ms (default %(default)s)",
    )
    parser.add_argument(
        "--vendors",
        action="store_true",
        help="also serve the data set through simulated vendor APIs (Shopify for orders and "
        "stock, AfterShip for the carrier, Zendesk for ticketing), after the four sources' "
        "ports; the demo's gateway then reads them "
        "through its vendor adapters (docs/adapters.md; default: off)",
    )
    parser.add_argument(
        "--fault",
        action="append",
        type=_fault,
        default=[],
        metavar="SOURCE:FAULTS",
        help="inject faults into a source's data endpoints, e.g. carrier:error=0.3@503, "
        "inventory:hang, oms:latency=200,jitter=50, ticketing:garbage=0.5, carrier:partial "
        "(repeatable; change them at run time with PUT <source>/__faults; default: none)",
    )


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is no whole number of at least 1")
    return int(text)


def _instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid datetime {text!r}: use ISO 8601, e.g. 2026-11-20T15:00:00Z"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _fault(text: str) -> tuple[str, FaultSpec]:
    from sim.cluster import parse_fault_option  # only when --fault is given

    try:
        return parse_fault_option(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _clock(args: argparse.Namespace) -> Clock:
    """The wall clock, or with ``--now T`` one that starts at T and ticks from there."""
    return SYSTEM_CLOCK if args.now is None else ShiftedClock(args.now)


def data_set_now(args: argparse.Namespace, clock: Clock) -> datetime:
    """The data set's "now": ``--now`` itself, however far the clock has ticked since
    it started there (the same ``--seed`` and ``--now`` serve the same data), else the
    wall clock's second."""
    return (args.now or clock.now()).replace(microsecond=0)


async def _start_sources(
    args: argparse.Namespace,
    port_base: int,
    webhook_url: str | None,
    webhook_secret: str | None,
    clock: Clock,
) -> SimCluster:
    from sim.cluster import start_cluster
    from sim.seed import generate
    from sim.vendors.access import SIM_API_KEY

    now = data_set_now(args, clock)
    dataset = generate(seed=args.seed, now=now, orders=args.orders)
    print(f"  data set: --seed {args.seed} --now {now.isoformat()} --orders {args.orders}")
    cluster = await start_cluster(
        dataset,
        host=args.host,
        port_base=port_base,
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        webhook_url=webhook_url,
        webhook_secret=webhook_secret,
        faults=dict(args.fault),
        clock=clock,
        vendors=args.vendors,
    )
    for name, url in cluster.urls.items():
        print(f"  {name:<10} {url}   (contract: {url}/openapi.json, counters: {url}/__stats)")
    if args.vendors:
        print(
            f"  the vendor APIs admit the key {SIM_API_KEY} (Shopify: X-Shopify-Access-Token; "
            f"AfterShip: as-api-key; Zendesk: Basic agent@example.com/token:{SIM_API_KEY})"
        )
    return cluster


def vendor_environment(sources: dict[str, SourceSettings]) -> list[str]:
    """``sources``' adapter settings as the environment variables that set them."""
    lines = []
    for name, source in sources.items():
        prefix = f"OG_{name.upper()}_"
        values = {"ADAPTER": source.adapter, "URL": source.url, "CREDENTIAL": source.credential}
        if source.options:
            values["OPTIONS"] = ",".join(f"{k}={v}" for k, v in source.options.items())
        values["WEBHOOK_SECRET"] = source.webhook_secret
        lines.append(" ".join(f"{prefix}{key}={value}" for key, value in values.items() if value))
    return lines


def vendor_source_settings(cluster: SimCluster, webhook_secret: str) -> dict[str, SourceSettings]:
    """The gateway's settings for the sources the simulated vendor APIs serve."""
    from sim.vendors.apis import VENDOR_APIS

    return {
        source: SourceSettings(
            url=cluster.urls[vendor],
            adapter=vendor,
            credential=api.CREDENTIAL,
            options=dict(api.OPTIONS),
            webhook_secret=webhook_secret,
        )
        for vendor, api in VENDOR_APIS.items()
        for source in api.SOURCE.serves
    }


async def _sim(args: argparse.Namespace) -> None:
    print("OrderGraph simulated sources:")
    cluster = await _start_sources(
        args, args.port_base, args.webhook_url, args.webhook_secret, _clock(args)
    )
    if args.vendors:
        print("A gateway reads the vendor APIs with these settings (ordergraph serve):")
        vendors = vendor_source_settings(cluster, "<--webhook-secret>")  # never echoed
        for line in vendor_environment(vendors):
            print(f"  {line}")
    try:
        await asyncio.Event().wait()
    finally:
        await cluster.close()


# The demo is a playground: its cost ceiling lets the largest page of full orders
# through. tests/support/queries.py's ORDERS_PAGE (lines with stock, fulfillment orders,
# shipments with tracking and events, tickets) costs 13,352 at first: 50 and 26,702 at
# first: 100 (tests/e2e/test_readme.py runs both against the demo). Production
# keeps Settings.max_cost (1,000).
DEMO_MAX_COST = 30_000
# A vendor's rate limit counts calls per one-second window (AfterShip: 10); a query
# that finds the window spent waits for the next, so the deadline must hold a window.
VENDOR_DEMO_DEADLINE_MS = 2000

DEMO_KEYS = (
    # (class, tenant, scopes): one key of each class
    ("app", EVERY_ACCOUNT, "orders:read,shipments:read,inventory:read"),
    ("console", EVERY_ACCOUNT, ",".join(sorted(ALL_SCOPES))),
    ("partner", "acct_partner_north", "orders:read,shipments:read"),
)


def _demo_deadline_ms(args: argparse.Namespace, settings: Settings) -> int:
    """The demo's request deadline: the configured one, or with ``--vendors`` one that
    holds a vendor's rate-limit window (unless OG_REQUEST_DEADLINE_MS says otherwise)."""
    if args.vendors and "OG_REQUEST_DEADLINE_MS" not in os.environ:
        return max(settings.request_deadline_ms, VENDOR_DEMO_DEADLINE_MS)
    return settings.request_deadline_ms


async def _demo_keys(settings: Settings) -> None:
    """Create and print one key of each class (dev mode also lets anonymous calls in)."""
    from gateway.auth.keys import generate_key
    from gateway.auth.store import open_key_store

    store = open_key_store(settings.keys_url, timeout_s=settings.keys_timeout_ms / 1000)
    print("API keys (send as 'Authorization: Bearer <key>'):")
    try:
        for client_class, tenant, scopes in DEMO_KEYS:
            key, record = generate_key(
                pepper=settings.key_pepper or "",
                env="demo",
                tenant=tenant,
                scopes=scopes.split(","),
                client_class=client_class,
                tier=DEFAULT_TIERS[client_class],
                label="demo",
            )
            await store.put(record)
            print(f"  {client_class:<8} tenant {tenant:<20} {key}")
    finally:
        await store.close()


def _keys(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.auth.cli import run_keys_command
    from gateway.auth.store import open_key_store

    try:
        check_pepper(settings.key_pepper)  # keys made with another pepper would not work
    except SettingsError as exc:
        print(f"ordergraph: {exc}", file=sys.stderr)
        return 2

    async def run() -> int:
        store = open_key_store(settings.keys_url, timeout_s=settings.keys_timeout_ms / 1000)
        try:
            return await run_keys_command(args, store, settings.key_pepper or "", sys.stdout)
        finally:
            await store.close()

    return asyncio.run(run())


async def _demo(args: argparse.Namespace, settings: Settings) -> None:
    from gateway.server import serve
    from gateway.startup import check_startup
    from resolvers.relay import to_global_id

    print("OrderGraph demo: simulated sources")
    secret = generate_secret()  # the sources sign their change events with it
    gateway = f"http://{args.host}:{args.port}"
    clock = _clock(args)  # one clock for the sources and the gateway: they agree on "late"
    cluster = await _start_sources(
        args, args.sim_port_base or args.port + 101, f"{gateway}/webhooks", secret, clock
    )
    sources = {name: SourceSettings(url=cluster.urls[name]) for name in SOURCE_NAMES}
    if args.vendors:
        sources |= vendor_source_settings(cluster, secret)
    settings = msgspec.structs.replace(
        settings,
        host=args.host,
        port=args.port,
        sources=sources,
        webhook_secrets=[secret],
        dev_mode=True,
        max_cost=settings.max_cost if "OG_MAX_COST" in os.environ else DEMO_MAX_COST,
        request_deadline_ms=_demo_deadline_ms(args, settings),
        key_pepper=settings.key_pepper or secrets.token_urlsafe(32),
        # A throwaway key store, unless one was configured on purpose.
        keys_url=settings.keys_url
        if "OG_KEYS_URL" in os.environ
        else f"file:{tempfile.mkdtemp(prefix='ordergraph-demo-')}/keys.json",
    )
    await check_startup(settings)  # a configured Redis key store, before keys go in
    await _demo_keys(settings)
    order_id = cluster.dataset.order_ids("in_transit")[0]
    order = cluster.dataset.orders[order_id]
    print(f"\nGraphiQL: {gateway}/graphql   (cache: {redact_url(settings.cache_url)})")
    print(
        f"Cost limit: {settings.max_cost:,} per query (OG_MAX_COST; the demo's default "
        f"{DEMO_MAX_COST:,} lets orders(first: 100) with lines, stock, tracking and tickets "
        "through; production's is 1,000)"
    )
    print(f"Try:\n{EXAMPLE_QUERY.format(number=order.number)}\n")
    print("Watch it live (a subscription: GraphiQL, a WebSocket or server-sent events):")
    print(f'  subscription {{ orderUpdated(id: "{to_global_id("Order", order.id)}") '
          "{ customerStatus health exceptions { code } } }\n")  # fmt: skip
    if order.shipments and order.shipments[0].tracking_number:
        carrier = cluster.urls["carrier"]
        number = order.shipments[0].tracking_number
        print("Then move its parcel on; the carrier's signed webhook refreshes the graph:")
        print(f"  curl -X POST {carrier}/admin/trackings/{number}/advance\n")
    try:
        await serve(settings, clock)
    finally:
        await cluster.close()
