"""GraphQL object types of the order graph."""
