"""Source adapters: what the gateway asks of each kind of source (``protocols``) and
which implementation answers it (``registry``).

The graph, the cache, resilience and the exception rules see only these protocols
and the records of :mod:`sources.records`, never a vendor. The native REST contract
(:mod:`sources.clients`) is one adapter among others; a third party registers its own
through the ``ordergraph.adapters`` entry point group (docs/adapters.md).
"""
