"""Shopify Admin GraphQL API shapes and their translation to our records (no I/O)."""
