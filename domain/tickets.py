"""What a support ticket's status says: whether the customer's matter is still open,
and whether the next move is our team's. The one copy of those groups of statuses;
the exception rules and the timeline read them.

The statuses are Zendesk's: new is not yet assigned and open is assigned and worked
on; pending waits on the requester and on-hold on a third party (no agent of ours);
solved waits only for a possible reopening, and closed is over.
"""

from __future__ import annotations

from sources.records import TicketStatus

#: The customer's matter is not settled yet, whoever moves next.
UNRESOLVED = frozenset(
    {TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING, TicketStatus.ON_HOLD}
)
#: Settled: solved (it may still reopen) or closed.
RESOLVED = frozenset(TicketStatus) - UNRESOLVED
#: The next move is our support team's: a reply is owed.
AWAITING_OUR_REPLY = frozenset({TicketStatus.NEW, TicketStatus.OPEN})
