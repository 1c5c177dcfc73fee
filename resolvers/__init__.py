"""The order graph: GraphQL types, per-request loaders and execution over the domain rules."""
