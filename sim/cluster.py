"""Start all four simulated sources on loopback, each on its own port, optionally faulty."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Self

from aiohttp import web

from sim.app import create_source_app, set_faults, set_latency
from sim.common import STATS_KEY
from sim.emitter import Emitter, EventRouter, WebhookEmitter, WebhookTarget
from sim.faults import FaultSpec, parse_fault_spec
from sim.seed import Dataset
from sim.stats import Stats
from sim.vendors.access import VendorAccount
from sim.vendors.apis import VENDOR_APIS, VENDORS
from sources.adapters.names import SOURCE_NAMES
from sources.clock import Clock, ShiftedClock

SOURCES = SOURCE_NAMES
# The simulated vendor APIs (sim.vendors.apis) start after the four sources (ports
# port_base + 4, …) with vendors=True.


@dataclass
class SimCluster:
    """Running sources: base URL per source, the apps (for stats) and the data set."""

    dataset: Dataset
    urls: dict[str, str] = field(default_factory=dict)
    apps: dict[str, web.Application] = field(default_factory=dict)
    _runners: list[web.AppRunner] = field(default_factory=list)

    def stats(self, source: str) -> Stats:
        return self.apps[source][STATS_KEY]

    def reset_stats(self) -> None:
        for app in self.apps.values():
            app[STATS_KEY].reset()

    def set_latency(self, source: str, latency_ms: float, jitter_ms: float = 0.0) -> None:
        set_latency(self.apps[source], latency_ms, jitter_ms)

    def set_faults(self, source: str, spec: FaultSpec | None) -> None:
        """Replace ``source``'s injected faults; ``None`` clears them."""
        set_faults(self.apps[source], spec)

    async def close(self) -> None:
        """Stop every server and drain its webhook deliveries briefly (idempotent)."""
        runners, self._runners = self._runners, []
        for runner in reversed(runners):
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


def parse_fault_option(text: str) -> tuple[str, FaultSpec]:
    """``<source>:<items>`` of the ``--fault`` option, e.g. ``carrier:error=0.3@500``.

    See :func:`~sim.faults.parse_fault_spec` for the items. Raises
    :class:`ValueError` on an unknown source or bad items.
    """
    source, colon, items = text.partition(":")
    source = source.strip()
    if not colon or not items.strip():
        raise ValueError(f"invalid fault {text!r}: expected <source>:<fault>[,<fault>...]")
    _check_sources([source], vendors=True)
    return source, parse_fault_spec(items)


def _check_sources(names: Iterable[str], vendors: bool = False) -> None:
    known = (*SOURCES, *VENDORS) if vendors else SOURCES
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise ValueError(
            f"unknown source(s) {', '.join(map(repr, unknown))}: expected one of "
            + ", ".join(known)
        )


def _per_source(value: float | Mapping[str, float], source: str) -> float:
    return value.get(source, 0.0) if isinstance(value, Mapping) else value


def _emitters(
    url: str | None, secret: str | None, dataset: Dataset, vendors: bool
) -> dict[str, WebhookEmitter]:
    """One emitter per source, shared by the apps that serve its data: in the vendor's
    shape when a vendor API serves it (``vendors``), else as a Standard Webhook."""
    if url is None or secret is None:
        return {}
    emitters = {}
    for source in SOURCES:
        target = WebhookTarget(url=f"{url.rstrip('/')}/{source}", secret=secret)
        for name, api in VENDOR_APIS.items() if vendors else ():
            if source in VENDORS[name]:
                target = replace(target, render=api.webhook(dataset, source), standard=False)
        emitters[source] = WebhookEmitter(target)
    return emitters


async def start_cluster(
    dataset: Dataset,
    *,
    host: str = "127.0.0.1",
    port_base: int | None = None,
    latency_ms: float | Mapping[str, float] = 0,
    jitter_ms: float | Mapping[str, float] = 0,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
    faults: Mapping[str, FaultSpec] | None = None,
    clock: Clock | None = None,
    vendors: bool = False,
    vendor_rate_per_s: int | None = None,
) -> SimCluster:
    """Serve every source in :data:`SOURCES` on ``host``.

    ``port_base=None`` lets the OS pick free ports; otherwise OMS listens on
    ``port_base``, inventory on +1, carrier on +2, ticketing on +3. Latency and jitter
    are a number for all sources or a mapping per source name. With ``webhook_url`` and
    ``webhook_secret`` (both or neither), every admin change is POSTed, signed, to
    ``<webhook_url>/<source>``. ``faults`` maps source names to the faults they start
    with. Changes are dated by ``clock``: by default one that starts at the data
    set's ``now`` and ticks from there, so changes follow the data set, not the calendar.

    With ``vendors``, the simulated vendor APIs of :data:`VENDORS` serve too, after the
    four (each with the latency of the first source whose data it serves, admitting
    :data:`~sim.vendors.access.SIM_API_KEY` at its vendor's own limit, or at
    ``vendor_rate_per_s`` calls a second); a source they serve then sends its changes
    in its vendor's shape, from whichever app the change was made through.
    """
    if (webhook_url is None) != (webhook_secret is None):
        raise ValueError("pass both webhook_url and webhook_secret, or neither")
    faults = faults or {}
    _check_sources(faults, vendors)
    cluster = SimCluster(dataset=dataset)
    clock = clock or ShiftedClock(dataset.now)
    emitters = _emitters(webhook_url, webhook_secret, dataset, vendors)
    served = {source: (source,) for source in SOURCES}
    if vendors:
        served |= VENDORS
    try:
        for offset, (source, data) in enumerate(served.items()):
            routed = {name: emitters[name] for name in data if name in emitters}
            emitter: Emitter | None = routed.get(data[0])
            if len(routed) > 1:
                emitter = EventRouter(routed)
            account = None
            if source in VENDORS:
                account = VENDOR_APIS[source].account()
                if vendor_rate_per_s is not None:
                    account = VendorAccount(limit=vendor_rate_per_s)
            app = create_source_app(
                source,
                dataset,
                # a vendor API has the latency of the first source it serves
                latency_ms=_per_source(latency_ms, data[0]),
                jitter_ms=_per_source(jitter_ms, data[0]),
                webhook=emitter,
                clock=clock,
                account=account,
            )
            set_faults(app, faults.get(source))
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            cluster._runners.append(runner)
            port = 0 if port_base is None else port_base + offset
            await web.TCPSite(runner, host, port).start()
            bound = runner.addresses[0][1]
            url_host = f"[{host}]" if ":" in host else host
            cluster.urls[source] = f"http://{url_host}:{bound}"
            cluster.apps[source] = app
    except BaseException:
        await cluster.close()
        raise
    return cluster
