"""Live results: subscriptions (and any operation) over a graphql-transport-ws
WebSocket or as server-sent events."""
