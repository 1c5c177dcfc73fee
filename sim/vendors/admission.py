"""Who a simulated vendor API lets in: its key check and its rate limit around each
data handler, with the vendor's rate-limit headers on every answer (by default
AfterShip's ``X-RateLimit-Limit``, ``-Remaining``, ``-Reset``; and for a vendor that
sends it ``Retry-After`` on a 429), in the vendor's own error shape."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from sim.common import ACCOUNT_KEY, STATS_KEY, Handler
from sim.vendors.access import Admission, VendorAccount

# (status, 401 or 429) -> the vendor's error answer
Refusal = Callable[[int], web.Response]
# (request, account) -> whether the request carries the account's key
Authorized = Callable[[web.Request, VendorAccount], bool]
# the limit's state -> the headers that state it
RateHeaders = Callable[[Admission], dict[str, str]]


def x_ratelimit(admission: Admission) -> dict[str, str]:
    """``X-RateLimit-Limit``, ``-Remaining`` and ``-Reset`` (a Unix time)."""
    return {
        "X-RateLimit-Limit": str(admission.limit),
        "X-RateLimit-Remaining": str(admission.remaining),
        "X-RateLimit-Reset": str(admission.reset),
    }


def admitted(
    handler: Handler,
    *,
    authorized: Authorized,
    refusal: Refusal,
    retry_after: bool = False,
    rate_headers: RateHeaders = x_ratelimit,
) -> Handler:
    """``handler`` behind the app account's key check and rate limit."""

    async def admit(request: web.Request) -> web.StreamResponse:
        account = request.app[ACCOUNT_KEY]
        if not authorized(request, account):
            return refusal(401)
        admission = account.take()
        headers = rate_headers(admission)
        if admission.admitted:
            response = await handler(request)
        else:
            request.app[STATS_KEY].throttled += 1
            response = refusal(429)
            if retry_after:
                headers["Retry-After"] = str(admission.retry_after)
        response.headers.update(headers)
        return response

    return admit
