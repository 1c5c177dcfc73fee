"""How far an order has got: :class:`OrderProgress` and the named groups of
fulfillment-order statuses (``FINISHED``, ``UNFINISHED``, ``OPEN_WORK``, ``STOPPABLE``,
``HANDED_OVER``), the one copy status, eligibility, exceptions and the timeline use.

The code lives in :mod:`sources.progress` for now: the simulated OMS under
``sources/sim`` needs the same arithmetic and ``sources`` may not import ``domain``.
This module is the name everything above ``sources`` uses; the code moves here when the
simulator moves out of ``sources``.
"""

from __future__ import annotations

from sources.progress import (
    FINISHED,
    HANDED_OVER,
    OPEN_WORK,
    STOPPABLE,
    UNFINISHED,
    LineProgress,
    OrderProgress,
    fulfillment_status,
)

__all__ = [
    "FINISHED",
    "HANDED_OVER",
    "OPEN_WORK",
    "STOPPABLE",
    "UNFINISHED",
    "LineProgress",
    "OrderProgress",
    "fulfillment_status",
]
