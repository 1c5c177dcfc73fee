"""The OMS and inventory served by one shop's Shopify Admin GraphQL API.

Settings (docs/adapters.md): ``OG_OMS_ADAPTER=shopify`` and/or
``OG_INVENTORY_ADAPTER=shopify``, ``OG_<SOURCE>_URL`` (``https://<shop>.myshopify.com``),
the app's Admin API access token as ``OG_<SOURCE>_CREDENTIAL`` (or ``_FILE``), the
option ``api_version`` (default :data:`~.wire.API_VERSION`), and the app's client
secret, which signs its webhooks, as ``OG_<SOURCE>_WEBHOOK_SECRET``. Calls are paced
by Shopify's query cost (:mod:`.client`).

Reads: orders by our ids through ``nodes(ids:)``, by number and as a list through
``orders(query:)``, items by SKU through ``inventoryItems(query:)``; at most 250 keys a
call (Shopify's limit on an input array and a page), fewer when one query's cost
allows fewer (:meth:`~.client.ShopifyClient.in_calls`). Nested connections are read a
short page at a time, a node longer than them again whole (:mod:`.queries`). An id
Shopify cannot have (not ``ord_<number>``) and a node Shopify answers null for are
not found; a node that cannot be read, or that an error struck, is left out (an
error for that key alone).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import msgspec

from sources.adapters.search import OrderSearch
from sources.adapters.shopify import queries, wire
from sources.adapters.shopify.client import NULL, Answer, ShopifyClient
from sources.adapters.shopify.gid import ID_PREFIXES, gid, our_id
from sources.adapters.shopify.inputs import address_input
from sources.adapters.shopify.inventory import item_from_shopify
from sources.adapters.shopify.orders import order_from_shopify
from sources.adapters.shopify.refusals import Refusal, cancel_refusal, update_refusal
from sources.adapters.shopify.search import numbers_query, order_query
from sources.adapters.shopify.skus import sku_query
from sources.adapters.shopify.vocabulary import CANCEL_REASON, COUNTRY_CODES
from sources.adapters.shopify.webhooks import (
    INVENTORY_TOPICS,
    ITEM_UNKNOWN,
    ORDER_TOPICS,
    InventoryLevelPayload,
    ItemSkus,
    delivery,
    order_event,
)
from sources.clients.changes import ChangeRefused
from sources.events import ChangeEvent, EventType
from sources.failures import NOT_FOUND, SOURCE_TIMEOUT, SOURCE_UNAVAILABLE, SourceError
from sources.options import SourceConfig
from sources.records import (
    LINE_CANCEL_NOT_SUPPORTED,
    NOT_CANCELLABLE,
    AddressChange,
    AddressChangeStatus,
    CancelReason,
    InventoryItem,
    LineQuantity,
    MailingAddress,
    Order,
    OrderEdge,
    OrderPage,
    PageInfo,
)
from sources.resilience import deadline
from sources.webhooks import VerifiedEvent, WebhookError

log = logging.getLogger("ordergraph.sources")
SOURCE_DOWN = "WEBHOOK_SOURCE_UNAVAILABLE"  # a webhook that needs the source, which is down

S = TypeVar("S", bound=msgspec.Struct)
# An address in a country Shopify has no code for is refused without a call, with the
# code domain.addresses refuses an unknown country with.
INVALID_COUNTRY = "INVALID_COUNTRY"
# orderCancel runs as a job: polled with pauses growing to the most, for at most
# MAX_JOB_WAIT_S when the request has no deadline.
JOB_POLL_S, MAX_JOB_POLL_S, MAX_JOB_WAIT_S = 0.05, 0.5, 5.0


class _Edge(wire.Wire, frozen=True, kw_only=True):
    cursor: str
    node: msgspec.Raw


class _Listed(wire.Wire, frozen=True, kw_only=True):
    edges: list[_Edge]
    page_info: wire.PageInfo


class _Orders(wire.Wire, frozen=True, kw_only=True):
    orders: _Listed


class _Items(wire.Wire, frozen=True, kw_only=True):
    inventory_items: wire.Connection[msgspec.Raw]


class _ItemSku(wire.Wire, frozen=True, kw_only=True):
    id: str
    sku: str | None = None


class _JobData(wire.Wire, frozen=True, kw_only=True):
    job: wire.Job | None = None  # None: Shopify no longer knows the job (long done)


class _Update(wire.Wire, frozen=True, kw_only=True):
    order: msgspec.Raw  # null when refused
    user_errors: list[wire.UserError]


class _Updated(wire.Wire, frozen=True, kw_only=True):
    order_update: _Update | None = None


ORDERS, ITEMS, JOB = Answer[_Orders], Answer[_Items], Answer[_JobData]
CANCELLED, UPDATED = Answer[wire.OrderCancelData], Answer[_Updated]


def _listed(data: _Orders) -> tuple[list[msgspec.Raw], bool]:
    return [edge.node for edge in data.orders.edges], data.orders.page_info.has_next_page


def _items(data: _Items) -> tuple[list[msgspec.Raw], bool]:
    info = data.inventory_items.page_info
    return data.inventory_items.nodes, bool(info and info.has_next_page)


def _cut_short(value: object) -> bool:
    """Whether a connection in ``value`` says it holds only its first page."""
    if isinstance(value, wire.Connection):
        info = value.page_info
        return bool(info and info.has_next_page) or any(_cut_short(n) for n in value.nodes)
    if isinstance(value, list):
        return any(_cut_short(item) for item in value)
    if isinstance(value, msgspec.Struct):
        return any(_cut_short(getattr(value, name)) for name in value.__struct_fields__)
    return False


def _read(decoder: msgspec.json.Decoder[S], raw: msgspec.Raw, what: str) -> S | None:
    """One node; None (logged) when it cannot be read."""
    try:
        return decoder.decode(raw)
    except msgspec.DecodeError as exc:
        log.warning("shopify sent an unreadable %s: %s", what, exc)
        return None


@dataclass(frozen=True, slots=True)
class _Longer:
    """A node longer than the short pages of a batch read (:mod:`.queries`), to be
    read again whole by ``key`` (our order id; an item's gid)."""

    key: str


V = TypeVar("V")
K = TypeVar("K")


async def _made_whole(
    found: Mapping[K, V | _Longer | None],
    reread: Callable[[list[str]], Awaitable[Mapping[str, V | None]]],
) -> dict[K, V | None]:
    """``found`` with every :class:`_Longer` node read again whole by ``reread``; one
    that ``reread`` does not answer is left out (an error for its key alone)."""
    longer = [node.key for node in found.values() if isinstance(node, _Longer)]
    whole = await reread(longer) if longer else {}
    made: dict[K, V | None] = {}
    for key, node in found.items():
        if not isinstance(node, _Longer):
            made[key] = node
        elif node.key in whole:
            made[key] = whole[node.key]
    return made


def _legacy_gid(type_: str, our_id: str) -> str | None:
    """The gid of our ``<prefix>_<number>`` id; None for an id Shopify cannot have."""
    legacy = our_id.removeprefix(f"{ID_PREFIXES[type_]}_")
    numbered = legacy != our_id and legacy.isascii() and legacy.isdigit()
    return gid(type_, legacy) if numbered else None


class ShopifyOrders(ShopifyClient):
    """The OMS: orders by id and number, the order list, cancel and address change."""

    name = "oms"
    cancels_lines = False  # orderCancel cancels whole orders; orderEdit is not mapped

    def _order(self, raw: msgspec.Raw, *, whole: bool = False) -> Order | _Longer | None:
        """The order in ``raw``, read with short pages (``whole``: pages of 250): a
        :class:`_Longer` when it is longer than short pages; None when it cannot be
        read or is longer than pages of 250."""
        node = _read(self._decoder(wire.Order), raw, "order")
        return None if node is None else self._order_of(node, whole=whole)

    def _order_of(self, node: wire.Order, *, whole: bool = False) -> Order | _Longer | None:
        outer = wire.MAX_PAGE if whole else queries.OUTER_PAGE
        longer = len(node.fulfillments) >= outer or len(node.refunds) >= outer
        longer = longer or _cut_short(node)
        try:
            if longer and not whole:
                return _Longer(our_id(node.id))
            if longer:
                log.warning("shopify sent an order longer than one page of a connection")
                return None
            return order_from_shopify(node)
        except ValueError as exc:
            log.warning("shopify sent an order of ids we do not keep: %s", exc)
            return None

    async def orders_by_ids(self, ids: list[str]) -> dict[str, Order | None]:
        asked = {order_id: _legacy_gid("Order", order_id) for order_id in dict.fromkeys(ids)}
        known = [order_id for order_id, order_gid in asked.items() if order_gid]
        found: dict[str, Order | None] = {i: None for i in asked if not asked[i]}
        if known:
            short = await self.in_calls(queries.ORDERS_BY_ID, known, self._by_ids)
            found |= await _made_whole(short, self._whole)
        return found

    async def _whole(self, ids: list[str]) -> dict[str, Order | None]:
        """The orders ``ids`` (all of them Shopify's) read with pages of 250."""
        return await self.in_calls(queries.WHOLE_ORDERS_BY_ID, ids, self._whole_by_ids)

    async def _whole_by_ids(self, ids: list[str]) -> dict[str, Order | None]:
        found = await self._by_ids(ids, whole=True)
        return {key: node for key, node in found.items() if not isinstance(node, _Longer)}

    async def _by_ids(
        self, ids: list[str], *, whole: bool = False
    ) -> dict[str, Order | _Longer | None]:
        """One ``nodes(ids:)`` call for ``ids``, all of them Shopify's."""
        operation = queries.WHOLE_ORDERS_BY_ID if whole else queries.ORDERS_BY_ID
        gids = {order_id: g for order_id in ids if (g := _legacy_gid("Order", order_id))}
        found: dict[str, Order | _Longer | None] = {}
        for order_id, raw in (await self.nodes(operation, gids)).items():
            if raw == NULL:
                found[order_id] = None
                continue
            order = self._order(raw, whole=whole)
            read = order.key if isinstance(order, _Longer) else None if order is None else order.id
            if read == order_id:  # the order asked, not another
                found[order_id] = order
        return found

    async def orders_by_numbers(self, numbers: list[str]) -> dict[str, Order | None]:
        """By number, as the native OMS: a leading ``#`` is dropped. A number missing
        from a page that may not hold every match (full, or with an unreadable order)
        is left out rather than called unknown."""
        asked = list(dict.fromkeys(number.removeprefix("#") for number in numbers))
        found = await self.find(
            queries.ORDERS_LISTED, asked, numbers_query, ORDERS, _listed, self._numbered
        )
        return await _made_whole(found, self._whole)

    def _numbered(self, raw: msgspec.Raw) -> tuple[str, Order | _Longer] | None:
        node = _read(self._decoder(wire.Order), raw, "order")
        order = None if node is None else self._order_of(node)
        return None if node is None or order is None else (node.name.removeprefix("#"), order)

    async def search_orders(
        self, search: OrderSearch, *, limit: int, cursor: str | None = None
    ) -> OrderPage:
        """One page of Shopify's order list, newest first, checked order by order
        (:meth:`OrderSearch.matches`: Shopify's query may match more). A page may so
        hold fewer orders than ``limit``, and lists fewer when a query of ``limit``
        orders would cost more than one query may; its end cursor is Shopify's, after every
        order Shopify listed, matched or not."""
        try:
            query = order_query(search)
        except ValueError:  # a customer no Shopify order can have
            return OrderPage(edges=[], page_info=PageInfo(has_next_page=False))
        data = await self.page_of(
            queries.ORDERS_LISTED,
            max(1, min(limit, wire.MAX_PAGE)),
            lambda first: {"first": first, "after": cursor, "query": query or None},
            ORDERS,
        )
        listed = {edge.cursor: self._order(edge.node) for edge in data.orders.edges}
        read = await _made_whole(listed, self._whole)
        edges = []
        for at in listed:
            order = read.get(at)
            if order is None:  # a list with a hole in it would skip the order for good
                raise self.bad_response("listed an order that cannot be read")
            if search.matches(order):
                edges.append(OrderEdge(cursor=at, node=order))
        info = data.orders.page_info
        return OrderPage(
            edges=edges,
            page_info=PageInfo(has_next_page=info.has_next_page, end_cursor=info.end_cursor),
        )

    async def cancel_order(
        self, order_id: str, reason: CancelReason, lines: list[LineQuantity] | None = None
    ) -> Order:
        """Cancel the whole order with ``orderCancel`` (refunded to its payment methods,
        restocked, the customer not notified), wait for Shopify's cancellation job
        (within the deadline), then read the order back. Lines cannot be cancelled
        at Shopify: refused (LINE_CANCEL_NOT_SUPPORTED) without a call. Never retried."""
        if lines is not None:
            raise ChangeRefused(
                self.name,
                LINE_CANCEL_NOT_SUPPORTED,
                "Shopify cancels whole orders only: cancel the order, or edit it in Shopify",
            )
        order_gid = self._known(order_id)
        variables = {"orderId": order_gid, "reason": CANCEL_REASON.write(reason)}
        data, _ = await self.graphql(queries.CANCEL_ORDER, variables, CANCELLED, write=True)
        payload = data.order_cancel
        if payload is None:
            raise self.bad_response("answered no orderCancel")
        self._refuse(cancel_refusal(payload.order_cancel_user_errors))
        if payload.job is None:
            raise self.bad_response("answered neither a cancellation job nor why not")
        await self._finished(payload.job)
        order = (await self.orders_by_ids([order_id])).get(order_id)
        if order is None:
            raise self.bad_response("the cancelled order cannot be read back")
        if order.cancelled_at is None:
            raise ChangeRefused(
                self.name, NOT_CANCELLABLE, "Shopify's cancellation job did not cancel the order"
            )
        return order

    async def change_shipping_address(
        self, order_id: str, address: MailingAddress
    ) -> AddressChange:
        """``orderUpdate`` with the new shipping address, replaced whole. Shopify
        applies it at once unless something downstream holds the change (the simulated
        Shopify: a warehouse that has the work, as the native OMS): an order answered
        without the address asked is REQUESTED (Shopify names no request). An address
        in a country Shopify has no code for is refused (INVALID_COUNTRY) without a
        call. Never retried."""
        if address.country_code not in COUNTRY_CODES:
            raise ChangeRefused(
                self.name,
                INVALID_COUNTRY,
                f"countryCode {address.country_code} is not a country at Shopify, which files "
                "some territories under another country's code (e.g. Puerto Rico under US)",
            )
        change = {"id": self._known(order_id), "shippingAddress": address_input(address)}
        variables = {"input": change}
        data, _ = await self.graphql(queries.CHANGE_ADDRESS, variables, UPDATED, write=True)
        payload = data.order_update
        if payload is None:
            raise self.bad_response("answered no orderUpdate")
        self._refuse(update_refusal(payload.user_errors))
        changed = None if payload.order == NULL else self._order(payload.order)
        order = (await _made_whole({order_id: changed}, self._whole)).get(order_id)
        if order is None:
            raise self.bad_response("the changed order cannot be read")
        applied = order.shipping_address == address
        status = AddressChangeStatus.APPLIED if applied else AddressChangeStatus.REQUESTED
        return AddressChange(status=status, order=order)

    async def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> VerifiedEvent:
        """A Shopify webhook of an order (:mod:`.webhooks`)."""
        sent = delivery(body, headers, self._config.webhook_secrets, ORDER_TOPICS)
        return VerifiedEvent(msg_id=sent.msg_id, event=order_event(sent))

    def _known(self, order_id: str) -> str:
        """The gid of ``order_id``; refused as NOT_FOUND for an id Shopify cannot have."""
        order_gid = _legacy_gid("Order", order_id)
        if order_gid is None:
            raise ChangeRefused(self.name, NOT_FOUND, f"no order {order_id!r}")
        return order_gid

    def _refuse(self, refusal: Refusal | None) -> None:
        """Raise Shopify's refusal as ours; Shopify's own failures (SOURCE_UNAVAILABLE)
        as a failure, not a refusal."""
        if refusal is None:
            return
        if refusal.code == SOURCE_UNAVAILABLE:
            raise SourceError(self.name, SOURCE_UNAVAILABLE, refusal.message, retryable=True)
        raise ChangeRefused(self.name, refusal.code, refusal.message)

    async def _finished(self, job: wire.Job) -> None:
        """Wait for the cancellation job, or raise SOURCE_TIMEOUT: Shopify took the
        cancellation, which may still finish, but not within the deadline."""
        pause, waited = JOB_POLL_S, 0.0
        while not job.done:
            left = deadline.remaining()
            if (MAX_JOB_WAIT_S - waited if left is None else left) < pause:
                raise SourceError(
                    self.name,
                    SOURCE_TIMEOUT,
                    "Shopify took the cancellation but had not finished it in time",
                    retryable=False,
                )
            await asyncio.sleep(pause)
            waited, pause = waited + pause, min(2 * pause, MAX_JOB_POLL_S)
            data, _ = await self.graphql(queries.CANCEL_JOB, {"id": job.id}, JOB)
            job = data.job or wire.Job(id=job.id, done=True)


class ShopifyInventory(ShopifyClient):
    """Inventory: items by SKU, their levels per location. Remembers the SKU of every
    item it read, so that a webhook naming an item by id can name its SKU."""

    name = "inventory"

    def __init__(self, config: SourceConfig, skus: ItemSkus | None = None) -> None:
        super().__init__(config)
        self._skus = skus or ItemSkus()  # the items read (given: a test's)

    async def items_by_skus(self, skus: list[str]) -> dict[str, InventoryItem | None]:
        """By the SKUs as asked (Shopify's SKUs are not unique: the first item listed
        counts). A SKU missing from a page that may not hold every match (full, or with
        an unreadable item) is left out rather than called unknown."""
        asked = list(dict.fromkeys(skus))
        found = await self.find(queries.ITEMS_BY_SKU, asked, sku_query, ITEMS, _items, self._item)
        return await _made_whole(found, self._whole)

    async def _whole(self, gids: list[str]) -> dict[str, InventoryItem | None]:
        """The items ``gids`` read with pages of 250, by gid."""
        return await self.in_calls(queries.WHOLE_ITEMS_BY_ID, gids, self._whole_by_gids)

    async def _whole_by_gids(self, gids: list[str]) -> dict[str, InventoryItem | None]:
        asked = await self.nodes(queries.WHOLE_ITEMS_BY_ID, dict(zip(gids, gids, strict=True)))
        found: dict[str, InventoryItem | None] = {}
        for item_gid, raw in asked.items():
            if raw == NULL:
                found[item_gid] = None
            elif (read := self._item(raw, whole=True)) and isinstance(read[1], InventoryItem):
                found[item_gid] = read[1]
        return found

    def _item(
        self, raw: msgspec.Raw, *, whole: bool = False
    ) -> tuple[str, InventoryItem | _Longer] | None:
        """One item by its SKU (remembered by its id), read with a short page of levels
        (``whole``: a page of 250); a :class:`_Longer` when it has more levels than the
        page; None when it cannot be read."""
        node = _read(self._decoder(wire.InventoryItem), raw, "inventory item")
        if node is None:
            return None
        if _cut_short(node):
            if whole:
                log.warning("shopify sent an item with more than a page of levels")
                return None
            return node.sku or "", _Longer(node.id)
        try:
            item = item_from_shopify(node)
        except ValueError as exc:
            log.warning("shopify sent a level at a location we do not keep: %s", exc)
            return None
        if node.sku is not None:
            self._skus.remember(node.id, node.sku)
        return node.sku or "", item

    async def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> VerifiedEvent:
        """A Shopify webhook of an inventory level (:mod:`.webhooks`): its item's SKU
        as read here, or as Shopify says."""
        sent = delivery(body, headers, self._config.webhook_secrets, INVENTORY_TOPICS)
        level = sent.payload(InventoryLevelPayload)
        item_gid = gid("InventoryItem", str(level.inventory_item_id))
        sku = self._skus.sku(item_gid) or await self._sku_of(item_gid)
        if sku is None:
            message = f"Shopify knows no inventory item {level.inventory_item_id}"
            raise WebhookError(400, ITEM_UNKNOWN, message)
        event = ChangeEvent(type=EventType.INVENTORY_CHANGED, occurred_at=level.updated_at, sku=sku)
        return VerifiedEvent(msg_id=sent.msg_id, event=event)

    async def _sku_of(self, item_gid: str) -> str | None:
        """Ask Shopify for the item's SKU (remembered); a Shopify that cannot answer
        is a 503, so that it delivers the webhook again."""
        try:
            raw = (await self.nodes(queries.ITEM_SKUS, {item_gid: item_gid})).get(item_gid, NULL)
        except SourceError as exc:
            message = f"Shopify did not say what item it is: {exc}"
            raise WebhookError(503, SOURCE_DOWN, message) from None
        try:
            node = msgspec.json.decode(raw, type=_ItemSku | None)
        except msgspec.DecodeError:
            node = None
        if node is None or not node.sku:
            return None
        self._skus.remember(node.id, node.sku)
        return node.sku
