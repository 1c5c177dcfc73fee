"""Zendesk Support API: its JSON shapes and their translation to our ticket records."""
