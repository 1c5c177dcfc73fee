"""The order rules' pure core: facts derived from the source records alone.

Imports only the source records (``sources.records``) and the standard library;
``resolvers``, ``services`` and ``gateway`` build on it (gateway → services → resolvers
→ domain → sources, checked by tests/unit/test_house_rules.py).
"""
