"""The exception queue for consoles: orders with open exceptions, most severe and
newest first, kept in the cache backend by change events and a periodic sweep; and
the feed of exceptions raised (``ExceptionIndex.on_raised``)."""

from resolvers.exception_queue.entries import (
    RAISED_CHANNEL,
    ExceptionFact,
    QueueEntry,
    RaisedExceptions,
)
from resolvers.exception_queue.index import ExceptionIndex, RaisedListener
from resolvers.exception_queue.store import QueueStore

__all__ = [
    "RAISED_CHANNEL",
    "ExceptionFact",
    "ExceptionIndex",
    "QueueEntry",
    "QueueStore",
    "RaisedExceptions",
    "RaisedListener",
]
