"""Upstream side of OrderGraph: typed records, source clients, adapters, cache and resilience."""
