"""Upstream side of OrderGraph: typed records, source clients and the simulated sources."""
