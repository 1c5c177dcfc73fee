"""Simulated upstream sources (OMS, inventory, carrier, ticketing) over one seeded data set.

Entry points: :func:`sim.seed.generate` builds the data set and
:func:`sim.cluster.start_cluster` serves it (``ordergraph sim`` runs the
sources standalone); ``python -m sim.openapi`` rewrites the contracts.

Where things live: ``seed/`` builds the data set (scenarios, order drafts, parcels,
tickets, inventory); ``changes/`` applies live changes, one module per source; each
source module (``oms``, ``inventory``, ``carrier``, ``ticketing``) declares its routes
once (:mod:`sim.routes`), and both its server (:mod:`sim.app`) and its contract
(:mod:`sim.openapi`) are built from those declarations.
"""
