"""The order rules' pure core: facts derived from the source records alone.

Imports only ``sources`` (records and the pure modules beside them) and the standard
library; ``resolvers``, ``services`` and ``gateway`` build on it (gateway → services →
resolvers → domain → sources, checked by tests/e2e/test_code_quality.py).
"""
