"""A simulated Shopify Admin GraphQL API over the data set's orders and inventory.

``POST /admin/api/{version}/graphql.json`` runs a query or mutation of the schema
subset in :mod:`sim.vendors.shopify_schema` (any version is served alike). Every call
needs ``X-Shopify-Access-Token`` (401 otherwise, as Shopify answers) and is charged its
calculated cost against the account's leaky bucket (Shopify's standard plan: 100
points restored a second, 1,000 held; a query costing more than 1,000 is refused
with MAX_COST_EXCEEDED): a query the bucket cannot hold is answered THROTTLED (HTTP
200, no data), and every answer carries ``extensions.cost``. Variables the schema does
not take (e.g. a country code Shopify has no value for) are refused whole, as Shopify
refuses them: no data, an INVALID_VARIABLE error a variable. Changes come through the
OMS's and inventory's admin routes, served here too, or the two mutations, and go out
as Shopify webhooks (``orders/updated``, ``orders/cancelled``,
``inventory_levels/update``, signed ``X-Shopify-Hmac-Sha256``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, cast

import msgspec
from aiohttp import web
from graphql import (
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLInputType,
    OperationDefinitionNode,
    execute_sync,
    get_operation_ast,
    parse,
    print_ast,
    validate,
)
from graphql.utilities import type_from_ast, validate_input_value

from sim import inventory, oms
from sim.common import ACCOUNT_KEY, JSON, PARTIAL_BATCH_KEY, STATS_KEY
from sim.emitter import Render
from sim.routes import Admin, Delivery, Param, Read, Source, path_param
from sim.seed import Dataset
from sim.vendors.access import SIM_API_KEY, Spent, VendorAccount
from sim.vendors.shopify_cost import Rule, requested_cost
from sim.vendors.shopify_schema import SCHEMA, Context, nested_page
from sources.adapters.shopify import wire
from sources.adapters.shopify.client import TOKEN_HEADER
from sources.adapters.shopify.gid import gid, item_gid, parse_gid, shopify_gid
from sources.adapters.shopify.webhooks import (
    API_VERSION_HEADER,
    HMAC_HEADER,
    SHOP_DOMAIN_HEADER,
    TOPIC_HEADER,
    TRIGGERED_AT_HEADER,
    WEBHOOK_ID_HEADER,
    FulfillmentPayload,
    InventoryLevelPayload,
    OrderPayload,
    Payload,
)
from sources.events import ChangeEvent, EventType
from sources.webhooks import hmac_signature, signature_timestamp

GRAPHQL_PATH = "/admin/api/{version}/graphql.json"
SHOP_DOMAIN = "og-sim.myshopify.com"
RATE_LIMITS = "https://shopify.dev/api/usage/rate-limits"
# What a gateway needs to read this API (gateway settings of the adapter):
CREDENTIAL = SIM_API_KEY
OPTIONS: dict[str, str] = {}


def account() -> VendorAccount:
    """Shopify's standard plan: 100 points restored a second into a bucket of 1,000;
    a query may cost 1,000 at the most."""
    return VendorAccount(limit=100, window_s=1, max_cost=wire.MAX_QUERY_COST)


class GraphQLRequest(msgspec.Struct, rename="camel", frozen=True, kw_only=True):
    query: str
    variables: dict[str, Any] | None = None
    operation_name: str | None = None


class GraphQLAnswer(wire.Wire, frozen=True, kw_only=True):
    """Every answer: ``data`` (left out when the query did not run, null when running
    it failed), ``errors`` (left out when none) and the query's cost with the bucket's
    state."""

    data: dict[str, Any] | msgspec.UnsetType | None = msgspec.UNSET
    errors: list[dict[str, Any]] | msgspec.UnsetType = msgspec.UNSET
    extensions: wire.Extensions


def _cost(requested: int, actual: int | None, spent: Spent) -> wire.Extensions:
    status = wire.ThrottleStatus(
        maximum_available=spent.maximum,
        currently_available=spent.available,
        restore_rate=spent.restore_per_s,
    )
    cost = wire.Cost(
        requested_query_cost=requested, actual_query_cost=actual, throttle_status=status
    )
    return wire.Extensions(cost=cost)


def _formatted(errors: Iterable[GraphQLError]) -> list[dict[str, Any]]:
    return [dict(error.formatted) for error in errors]


def _refused(requested: int, spent: Spent, message: str, code: str, **said: int) -> GraphQLAnswer:
    extensions = {"code": code, **said, "documentation": RATE_LIMITS}
    error = {"message": message, "extensions": extensions}
    return GraphQLAnswer(errors=[error], extensions=_cost(requested, None, spent))


def _refused_variables(
    operation: OperationDefinitionNode, values: dict[str, Any]
) -> list[dict[str, Any]]:
    """Shopify's errors for the variables its schema does not take, one a variable:
    graphql-ruby's message, the ``value`` sent and its ``problems`` (where in the value,
    and what is wrong there), under the code INVALID_VARIABLE."""
    errors = []
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        if name not in values and definition.default_value is not None:
            continue
        value = values.get(name)
        problems = _problems(value, cast(GraphQLInputType, type_from_ast(SCHEMA, definition.type)))
        if not problems:
            continue
        where = ".".join(str(step) for step in problems[0]["path"])
        message = f"Variable ${name} of type {print_ast(definition.type)} was provided"
        message += f" invalid value for {where}" if where else " invalid value"
        error = GraphQLError(message, definition)
        extensions = {"code": wire.INVALID_VARIABLE, "value": value, "problems": problems}
        errors.append({**error.formatted, "extensions": extensions})
    return errors


def _problems(value: Any, type_: GraphQLInputType) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    validate_input_value(
        value, type_, lambda error, path: found.append({"path": path, "explanation": error.message})
    )
    return found


def run(request: web.Request, asked: GraphQLRequest) -> GraphQLAnswer:
    """Parse, validate and cost ``asked``, charge the account and execute it."""
    account = request.app[ACCOUNT_KEY]
    try:
        document = parse(asked.query)
    except GraphQLError as exc:
        return GraphQLAnswer(errors=_formatted([exc]), extensions=_cost(0, 0, account.spend(0)))
    errors = validate(SCHEMA, document)
    operation = get_operation_ast(document, asked.operation_name)
    if errors or operation is None:
        problems = _formatted(errors) or [{"message": "no operation to run"}]
        return GraphQLAnswer(errors=problems, extensions=_cost(0, 0, account.spend(0)))
    refused = _refused_variables(operation, asked.variables or {})
    if refused:
        return GraphQLAnswer(errors=refused, extensions=_cost(0, 0, account.spend(0)))
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    rule: Rule = "documented" if account.documented_cost else "roots"
    requested = requested_cost(SCHEMA, operation, fragments, asked.variables or {}, rule)
    most = account.max_cost
    if most is not None and requested > most:
        message = (
            f"Query cost is {requested}, which exceeds the single query max cost limit ({most})."
        )
        spent = account.spend(0)
        return _refused(
            requested, spent, message, wire.MAX_COST_EXCEEDED, cost=requested, maxCost=most
        )
    spent = account.spend(requested)
    if not spent.admitted:
        request.app[STATS_KEY].throttled += 1
        return _refused(requested, spent, "Throttled", wire.THROTTLED)
    context = Context(request.app, partial=bool(request.get(PARTIAL_BATCH_KEY)))
    result = execute_sync(
        SCHEMA,
        document,
        context_value=context,
        variable_values=asked.variables,
        operation_name=asked.operation_name,
        field_resolver=nested_page,
    )
    account.refund(context.refund)
    after = Spent(True, spent.maximum, spent.available + context.refund, spent.restore_per_s)
    return GraphQLAnswer(
        data=result.data,
        errors=_formatted(result.errors) if result.errors else msgspec.UNSET,
        extensions=_cost(requested, requested - context.refund, after),
    )


async def _graphql(request: web.Request) -> web.Response:
    if not request.app[ACCOUNT_KEY].knows(request.headers.get(TOKEN_HEADER)):
        message = "[API] Invalid API key or access token (unrecognized login or wrong password)"
        return web.json_response({"errors": message}, status=401)
    try:
        asked = msgspec.json.decode(await request.read(), type=GraphQLRequest)
    except msgspec.DecodeError:
        problem = {"query": "Required parameter missing or invalid"}
        return web.json_response({"errors": problem}, status=400)
    answer = run(request, asked)
    headers = {API_VERSION_HEADER: request.match_info["version"]}
    return web.Response(body=msgspec.json.encode(answer), content_type=JSON, headers=headers)


def _delivery(dataset: Dataset, event: ChangeEvent) -> tuple[str, Payload]:
    """The topic and payload of ``event``: the fulfillment it created, the order's, or
    the level of the item's location that changed last (the one this event announces)."""
    if event.type is EventType.INVENTORY_CHANGED:
        item = dataset.inventory[event.sku or ""]
        level = max(item.levels, key=lambda lv: lv.as_of)
        item_id = parse_gid(item_gid(item.sku))[1]
        location_id = parse_gid(shopify_gid("Location", level.location_id))[1]
        level_gid = f"{gid('InventoryLevel', location_id)}?inventory_item_id={item_id}"
        return "inventory_levels/update", InventoryLevelPayload(
            inventory_item_id=int(item_id),
            location_id=location_id,
            available=level.available,
            updated_at=level.as_of,
            admin_graphql_api_id=level_gid,
        )
    order = dataset.orders[event.order_id or ""]
    order_gid = shopify_gid("Order", order.id)
    shipped = [s for s in order.shipments if s.shipped_at == event.occurred_at]
    if event.type is EventType.ORDER_UPDATED and shipped:  # the change shipped it
        return "fulfillments/create", FulfillmentPayload(
            order_id=int(parse_gid(order_gid)[1]),
            admin_graphql_api_id=shopify_gid("Fulfillment", shipped[-1].id),
            updated_at=shipped[-1].shipped_at,
        )
    cancelled = event.type is EventType.ORDER_CANCELLED
    return "orders/cancelled" if cancelled else "orders/updated", OrderPayload(
        id=int(parse_gid(order_gid)[1]),
        admin_graphql_api_id=order_gid,
        name=f"#{order.number}",
        updated_at=order.updated_at,
        cancelled_at=order.cancelled_at,
    )


def webhook(dataset: Dataset, source: str) -> Render:
    """How the simulated Shopify delivers a change of ``source`` (the OMS's or
    inventory's): the resource as it now is, under its topic."""

    def render(event: ChangeEvent, msg_id: str, secret: str) -> tuple[bytes, dict[str, str]]:
        topic, payload = _delivery(dataset, event)
        body = msgspec.json.encode(payload)
        return body, {
            HMAC_HEADER: hmac_signature(secret, body),
            TOPIC_HEADER: topic,
            WEBHOOK_ID_HEADER: str(uuid.UUID(hex=msg_id.removeprefix("msg_"))),
            TRIGGERED_AT_HEADER: signature_timestamp(),
            API_VERSION_HEADER: wire.API_VERSION,
            SHOP_DOMAIN_HEADER: SHOP_DOMAIN,
        }

    return render


_VERSION = path_param("version", "API version, e.g. 2026-04 (every version is served alike).")
_TOKEN = Param(
    TOKEN_HEADER, "The app's Admin API access token.", {"type": "string"}, True, location="header"
)

SOURCE = Source(
    name="shopify",
    title="OrderGraph simulated Shopify Admin GraphQL API",
    description="The OMS's orders and inventory's items in Shopify's GraphQL shapes, "
    "access token, query cost and webhooks.",
    routes=(
        Read(
            method="POST",
            path=GRAPHQL_PATH,
            operation_id="graphql",
            summary="Run a GraphQL query or mutation",
            description="Body {query, variables, operationName}; the schema subset of "
            "sim/vendors/shopify_schema.py: nodes(ids:) (at most 250), orders(first:, after:, "
            "query:, sortKey: CREATED_AT, reverse:), inventoryItems(first:, after:, query: "
            'sku:"…" ORed), job(id:), shop, orderCancel, orderUpdate. 401 without a known '
            "X-Shopify-Access-Token; a query the account's cost bucket cannot hold answers "
            "200 with a THROTTLED error; every answer carries extensions.cost.",
            response=GraphQLAnswer,
            handler=_graphql,
            params=(_VERSION, _TOKEN),
        ),
        *(route for route in oms.SOURCE.routes if isinstance(route, Admin)),
        *(route for route in inventory.SOURCE.routes if isinstance(route, Admin)),
    ),
    serves=("oms", "inventory"),
    delivers=Delivery(
        body=OrderPayload,
        headers=(
            (HMAC_HEADER, "Base64 of the HMAC-SHA256 of the body under the app's secret."),
            (
                TOPIC_HEADER,
                "orders/updated, orders/cancelled, fulfillments/create or inventory_levels/update.",
            ),
            (WEBHOOK_ID_HEADER, "The delivery's id: the same on every retry."),
            (TRIGGERED_AT_HEADER, "When the webhook was triggered (ISO 8601)."),
            (API_VERSION_HEADER, "The API version of the payload."),
            (SHOP_DOMAIN_HEADER, "The shop's myshopify.com domain."),
        ),
        signed="The order (orders/*), the fulfillment with its order_id "
        "(fulfillments/create) or, for inventory_levels/update, the level "
        "{inventory_item_id, location_id, available, updated_at}; signed with "
        "X-Shopify-Hmac-Sha256.",
    ),
)
