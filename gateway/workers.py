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
waits for all of them. A worker listens only once its app has started (uvicorn
listens on the socket it is given then), so the kernel hands a starting worker no
connection, and the worker tells the parent over a pipe that it came up. One that
ends before it came up stops them all, as it would fail again (exit status 3 for
uvicorn's start-up failure, else 1). One that dies after is replaced after a delay
that doubles with each crash within ``CRASH_WINDOW_S``, and ``MAX_CRASHES`` there stop
them all (status 1). A worker whose parent dies stops itself as on SIGTERM.

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
multiprocess mode, over a fresh directory per run): live connections are summed over
the live workers, breaker state keeps a ``pid`` label per live worker, and
``mark_process_dead`` drops a dead worker's gauges before its replacement starts.
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
import time
from collections import deque
from collections.abc import Callable
from multiprocessing.connection import Connection
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
UP_POLL_S = 0.05  # how often a starting worker looks whether it listens yet
# A worker that crashes is replaced after FIRST_RESTART_DELAY_S, twice as long for each
# other crash within CRASH_WINDOW_S, and MAX_CRASHES there stop the server (status 1).
# A worker runs for hours: crashes that close together come from what workers are sent
# (a request its client retries) or what the host lacks (memory), and restarting at
# once only loses each new worker's queued connections and an interpreter's start-up
# over again. Stopped, the server is restarted from scratch by whatever runs it (a
# restart policy, systemd), whose alerts see it, rather than flapping unnoticed. The
# waits before the fifth crash (0.5 + 1 + 2 + 4 s) stay well within the window.
FIRST_RESTART_DELAY_S = 0.5
CRASH_WINDOW_S = 60.0
MAX_CRASHES = 5
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


class Restarts:
    """When to replace a worker that crashed after it came up: ever later while crashes
    keep coming, and never once ``MAX_CRASHES`` fell within ``CRASH_WINDOW_S``."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._crashes: deque[float] = deque()  # when, within the window

    def delay_after_crash(self) -> float | None:
        """Seconds until the crashed worker's replacement starts; None: stop the server."""
        now = self._clock()
        while self._crashes and now - self._crashes[0] >= CRASH_WINDOW_S:
            self._crashes.popleft()
        self._crashes.append(now)
        if len(self._crashes) >= MAX_CRASHES:
            return None
        return FIRST_RESTART_DELAY_S * 2 ** (len(self._crashes) - 1)


class Supervisor:
    def __init__(
        self, settings: Settings, count: int, sock: socket.socket, metrics_dir: str
    ) -> None:
        self.settings = settings
        self.count = count
        self.sock = sock
        self.metrics_dir = metrics_dir
        self.workers: list[BaseProcess] = []
        self.starting: dict[BaseProcess, Connection] = {}  # the pipe each says "up" on
        self.up: set[BaseProcess] = set()  # the workers that said so
        self.restarts = Restarts()
        self.due: list[float] = []  # when replacements start (time.monotonic)
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
                    self._start()
            while self.workers or self.due:
                self._start_due()
                waited: list[int | Connection] = [w.sentinel for w in self.workers]
                waited += self.starting.values()
                multiprocessing.connection.wait(waited, timeout=self._wait_s())
                self._note_up()
                status = self._reap() or status
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return status

    def _start(self) -> None:
        port = self.sock.getsockname()[1]
        reports, report = _spawn.Pipe(duplex=False)
        worker = _spawn.Process(target=_worker, args=(self.settings, port, report))
        worker.start()
        report.close()  # the worker's end
        self.workers.append(worker)
        self.starting[worker] = reports

    def _start_due(self) -> None:
        now = time.monotonic()
        for due in [due for due in self.due if due <= now]:
            self.due.remove(due)
            self._start()

    def _wait_s(self) -> float:
        """How long to wait for a worker's news: a second, or until a replacement is due."""
        if not self.due:
            return 1.0
        return min(1.0, max(0.0, min(self.due) - time.monotonic()))

    def _note_up(self) -> None:
        """Note the workers that said they came up; forget the pipes that said their
        word (or closed without one: the worker ends without having come up)."""
        for worker in [w for w, reports in self.starting.items() if reports.poll()]:
            if _said_up(self.starting[worker]):
                self.up.add(worker)
            self.starting.pop(worker).close()

    def _reap(self) -> int:
        """Forget the workers that ended; replace those that died unasked after they
        came up, or stop all (the status then, else 0)."""
        status = 0
        for worker in [w for w in self.workers if w.exitcode is not None]:
            self.workers.remove(worker)
            self._note_up()  # what it said just before it ended
            came_up = worker in self.up
            self.up.discard(worker)
            if worker.pid is not None:
                multiprocess.mark_process_dead(worker.pid, self.metrics_dir)
            if self.stopping:
                continue
            ended = _ending(worker.exitcode)
            if not came_up:
                log.error("worker %d ended (%s) before it came up: stopping", worker.pid, ended)
                status = STARTUP_FAILURE if worker.exitcode == STARTUP_FAILURE else 1
                self._signal_all(signal.SIGTERM)
                continue
            delay_s = self.restarts.delay_after_crash()
            if delay_s is None:
                log.error(
                    "worker %d ended (%s), %d crashes within %g s: stopping",
                    worker.pid, ended, MAX_CRASHES, CRASH_WINDOW_S,
                )  # fmt: skip
                status = 1
                self._signal_all(signal.SIGTERM)
                continue
            log.error("worker %d ended (%s): replacing it in %g s", worker.pid, ended, delay_s)
            self.due.append(time.monotonic() + delay_s)
        return status

    def _on_signal(self, sig: int, _frame: FrameType | None) -> None:
        if not self.stopping:
            log.warning("%s: stopping %d workers", signal.Signals(sig).name, len(self.workers))
        self._signal_all(sig)

    def _signal_all(self, sig: int) -> None:
        self.stopping = True
        self.due.clear()
        for worker in self.workers:
            if worker.pid is not None and worker.exitcode is None:
                os.kill(worker.pid, sig)


def _said_up(reports: Connection) -> bool:
    """Whether the worker at the other end of ``reports`` said it came up."""
    try:
        return reports.poll() and reports.recv_bytes() == b"up"
    except EOFError:  # it ended without a word
        return False


def _ending(exitcode: int | None) -> str:
    """How a worker ended, for the log: its exit status or the signal that killed it."""
    if exitcode is None or exitcode >= 0:
        return f"exit status {exitcode}"
    try:
        return f"killed by {signal.Signals(-exitcode).name}"
    except ValueError:  # a signal without a name here
        return f"killed by signal {-exitcode}"


def _worker(settings: Settings, port: int, report: Connection) -> None:  # pragma: no cover
    """One worker: the gateway on a socket of its own, as a single process runs it,
    saying on ``report`` when it came up."""
    from gateway.observability import configure_logging, configure_tracing
    from gateway.server import serve_on

    os.setpgrp()  # signals come from the parent only
    threading.Thread(target=_stop_with_parent, daemon=True).start()
    configure_logging(settings.log_level, settings.log_format)
    configure_tracing(settings.tracing_exporter, endpoint=settings.otlp_endpoint)
    sock = port_socket(settings.host, port)  # uvicorn listens once the app started
    threading.Thread(target=_report_up, args=(sock, report), daemon=True).start()
    headers = [(WORKER_HEADER, str(os.getpid()))]
    run_main(serve_on(settings, sockets=[sock], headers=headers, log_configuration=False))


def _report_up(sock: socket.socket, report: Connection) -> None:  # pragma: no cover
    """Say "up" on ``report`` once ``sock`` listens: uvicorn listens on it only after
    the app's start-up succeeded (a child's thread)."""
    try:
        while not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
            time.sleep(UP_POLL_S)
        report.send_bytes(b"up")
    except OSError:  # the socket closed first: the worker stops without having come up
        pass
    finally:
        report.close()


def _stop_with_parent() -> None:  # pragma: no cover - a child's thread
    parent = multiprocessing.parent_process()
    if parent is not None:
        multiprocessing.connection.wait([parent.sentinel])
        os.kill(os.getpid(), signal.SIGTERM)
