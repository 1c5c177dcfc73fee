"""Simulated vendor APIs: the same data set as the native sources, served in the shape
of the vendors' own APIs (``ordergraph sim --vendors``), with their authentication,
pagination, rate limits and signed webhooks."""
