"""Mutations: change an order or its tickets, with clear answers when it is not allowed.

Each checks scope (before execution, at the edge), tenant and eligibility before
calling the source; takes an optional ``idempotencyKey`` (the first outcome is
returned to every repeat, the source called once); never retries the source call;
then invalidates the cache and announces the change to every instance
(:func:`resolvers.mutations.runner.mutate`).
"""

from __future__ import annotations

import strawberry

from resolvers.access import requires
from resolvers.mutations import orders, tickets


@strawberry.type(
    description="Changes to orders (OMS) and tickets (ticketing); each answers with "
    "`userErrors` when refused."
)
class Mutation:
    order_cancel = strawberry.mutation(
        resolver=orders.order_cancel,
        description="Cancel an order, or some of its unfulfilled quantities.",
        directives=requires("orders:write"),
    )
    order_update_shipping_address = strawberry.mutation(
        resolver=orders.order_update_shipping_address,
        description="Change where an order ships. Once a warehouse has the work the "
        "change becomes a request it approves or rejects (status REQUESTED).",
        directives=requires("orders:write"),
    )
    ticket_create = strawberry.mutation(
        resolver=tickets.ticket_create,
        description="Open a support ticket about an order, with its first comment.",
        directives=requires("tickets:write"),
    )
    ticket_add_comment = strawberry.mutation(
        resolver=tickets.ticket_add_comment,
        description="Comment on a ticket. A closed ticket refuses it (TICKET_CLOSED: open "
        "a follow-up ticket); a solved one is reopened.",
        directives=requires("tickets:write"),
    )
