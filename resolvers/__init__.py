"""The order graph: GraphQL types, per-request loaders and the domain rules behind them."""
