"""``ordergraph serve --workers N``: N gateway processes on one port.

``serve`` refuses what cannot work (:func:`gateway.startup.check_startup`) before
the port is bound. The parent, which never imports the gateway's stack, then holds
the port (bound, not listening) and starts N workers, each a fresh interpreter
(multiprocessing's spawn, as uvicorn's) running the same
:class:`gateway.server.GatewayServer` as a single process does, on uvloop with the
httptools protocol. Each worker listens on a socket of its own with
``SO_REUSEPORT``, so the kernel spreads new connections over them: on one shared
socket, uvloop accepts every pending connection at once, and in a burst of clients
(10 keep-alive connections opened together) one worker took them all. Signals reach
the parent only (workers leave its process group, so Ctrl+C in a terminal is not
delivered twice) and are passed on as they came: SIGTERM makes every worker fail
readiness, drain and finish what is in flight, SIGINT skips the drain; the parent
waits for all of them. A worker that dies after it started is replaced; one that
fails to start (uvicorn's exit status 3) stops them all. A worker whose parent dies
stops itself as on SIGTERM.

Why not uvicorn's own supervisor (``uvicorn.supervisors.Multiprocess``): its
workers run a plain ``uvicorn.Server`` made from a ``Config`` pickled in the parent.
The drain before shutdown lives in ``GatewayServer`` (readiness fails first while
requests are still served for ``OG_SHUTDOWN_DRAIN_MS``; WebSockets close with 1001,
not uvicorn's 1012), and the four places that make its worker class cannot be told
to make another; nor do the app and the per-server HTTP protocol class pickle,
since both are built per process. Its workers also share one socket, which one
worker empties (above). What it would add, a ping over a pipe to detect a hung
interpreter, an orchestrator's liveness probe on ``/healthz`` covers.

Workers share state only through Redis: with the memory cache each would keep its
own cache, cost buckets, idempotency claims and webhook dedupe, and a change event
would reach one of them. So with ``memory://`` the default is one process and more
are refused. ``/metrics`` adds up every worker's series (prometheus_client's
multiprocess mode, over a fresh directory per run); gauges carry a ``pid`` label.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import shutil
import signal
import socket
import tempfile
import threading
from multiprocessing.process import BaseProcess
from types import FrameType
from urllib.parse import urlsplit

from prometheus_client import multiprocess
from uvicorn.config import STARTUP_FAILURE

from gateway.event_loop import run_main
from gateway.settings import Settings, SettingsError
from gateway.startup import log_configuration

log = logging.getLogger("ordergraph.workers")

WORKER_HEADER = "x-ordergraph-worker"  # the pid of the worker that answered
METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"
BACKLOG = 2048  # uvicorn's default
_spawn = multiprocessing.get_context("spawn")


def cores() -> int:
    """The cores this process may run on (its CPU affinity), else the machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def worker_count(settings: Settings) -> int:
    """How many processes ``serve`` runs; a ``SettingsError`` for more than one over
    the memory cache."""
    memory = urlsplit(settings.cache_url).scheme == "memory"
    if settings.workers is None:
        return 1 if memory else cores()
    if memory and settings.workers > 1:
        raise SettingsError(
            f"OG_WORKERS={settings.workers} (--workers): the memory cache "
            "(OG_CACHE_URL=memory://) cannot be shared between processes; each worker "
            "would keep its own cache, cost buckets, idempotency claims and webhook "
            "dedupe, and a change event would reach only one of them. Use "
            "OG_CACHE_URL=redis://… or one worker"
        )
    return settings.workers


def port_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host``:``port`` that other sockets of this user may bind
    as well (``SO_REUSEPORT``); as uvicorn, IPv6 for a host with a colon. A TCP socket
    by name, so that even asyncio's own loop (uvloop does anyway) turns Nagle off on
    the connections it accepts: uvicorn writes a response's head and body apart."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def run_workers(settings: Settings, count: int) -> int:
    """Serve with ``count`` worker processes until stopped; the exit status. The
    start-up checks are the caller's; the supervisor never imports the stack (each
    worker does)."""
    log_configuration(settings)
    try:
        sock = port_socket(settings.host, settings.port)  # held: port 0 picks it here
    except OSError as exc:
        where = f"{settings.host}:{settings.port}"
        raise SettingsError(f"OG_HOST/OG_PORT: cannot listen on {where}: {exc}") from exc
    metrics_dir = tempfile.mkdtemp(prefix="ordergraph-metrics-")
    os.environ[METRICS_DIR] = metrics_dir  # before the workers import prometheus_client
    try:
        return Supervisor(settings, count, sock, metrics_dir).run()
    finally:
        sock.close()
        shutil.rmtree(metrics_dir, ignore_errors=True)


class Supervisor:
    def __init__(
        self, settings: Settings, count: int, sock: socket.socket, metrics_dir: str
    ) -> None:
        self.settings = settings
        self.count = count
        self.sock = sock
        self.metrics_dir = metrics_dir
        self.workers: list[BaseProcess] = []
        self.stopping = False

    def run(self) -> int:
        handled = (signal.SIGTERM, signal.SIGINT)
        previous = {sig: signal.signal(sig, self._on_signal) for sig in handled}
        status = 0
        try:
            host, port = self.sock.getsockname()[:2]
            log.info("%d workers on %s:%d (parent %d)", self.count, host, port, os.getpid())
            for _ in range(self.count):
                if not self.stopping:
                    self.workers.append(self._start())
            while self.workers:
                multiprocessing.connection.wait([w.sentinel for w in self.workers], timeout=1.0)
                status = self._reap() or status
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return status

    def _start(self) -> BaseProcess:
        port = self.sock.getsockname()[1]
        worker = _spawn.Process(target=_worker, args=(self.settings, port))
        worker.start()
        return worker

    def _reap(self) -> int:
        """Forget the workers that ended, replacing those that died unasked; stop all
        if one could not start (its status then)."""
        status = 0
        for worker in [w for w in self.workers if w.exitcode is not None]:
            self.workers.remove(worker)
            if worker.pid is not None:
                multiprocess.mark_process_dead(worker.pid, self.metrics_dir)
            if self.stopping:
                continue
            if worker.exitcode == STARTUP_FAILURE:
                log.error("worker %d failed to start: stopping", worker.pid)
                status = STARTUP_FAILURE
                self._signal_all(signal.SIGTERM)
                continue
            log.error("worker %d died (exit status %s): replacing it", worker.pid, worker.exitcode)
            self.workers.append(self._start())
        return status

    def _on_signal(self, sig: int, _frame: FrameType | None) -> None:
        if not self.stopping:
            log.warning("%s: stopping %d workers", signal.Signals(sig).name, len(self.workers))
        self._signal_all(sig)

    def _signal_all(self, sig: int) -> None:
        self.stopping = True
        for worker in self.workers:
            if worker.pid is not None and worker.exitcode is None:
                os.kill(worker.pid, sig)


def _worker(settings: Settings, port: int) -> None:  # pragma: no cover - a child
    """One worker: the gateway on a socket of its own, as a single process runs it."""
    from gateway.observability import configure_logging, configure_tracing
    from gateway.server import serve_on

    os.setpgrp()  # signals come from the parent only
    threading.Thread(target=_stop_with_parent, daemon=True).start()
    configure_logging(settings.log_level, settings.log_format)
    configure_tracing(settings.tracing_exporter, endpoint=settings.otlp_endpoint)
    sock = port_socket(settings.host, port)
    sock.listen(BACKLOG)
    headers = [(WORKER_HEADER, str(os.getpid()))]
    run_main(serve_on(settings, sockets=[sock], headers=headers, log_configuration=False))


def _stop_with_parent() -> None:  # pragma: no cover - a child's thread
    parent = multiprocessing.parent_process()
    if parent is not None:
        multiprocessing.connection.wait([parent.sentinel])
        os.kill(os.getpid(), signal.SIGTERM)
