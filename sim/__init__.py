"""Simulated upstream sources (OMS, inventory, carrier, ticketing) over one seeded data set.

Entry points: :func:`sim.seed.generate` builds the data set and
:func:`sim.cluster.start_cluster` serves it (``ordergraph sim`` runs the
sources standalone); ``python -m sim.openapi`` rewrites the contracts.
"""
