"""The exception queue for consoles: orders with open exceptions, most severe and
newest first, kept in the cache backend by change events and a periodic sweep
(``index``, ``sweep``, ``store``); and the feed of exceptions raised
(``ExceptionIndex.on_raised``). What it holds is plain data: ``domain.queue_entries``."""
