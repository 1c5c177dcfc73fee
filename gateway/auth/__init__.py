"""API keys: their format and storage, authenticating requests, and the ``keys`` CLI."""
