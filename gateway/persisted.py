"""Persisted operations: a manifest of trusted documents, and Apollo's Automatic
Persisted Queries.

- Trusted documents: a JSON manifest ``{"<id>": "<document>"}`` loaded at start.
  A request names one with ``documentId`` (or ``id``, or an APQ hash that is a
  manifest id). Partner keys may run nothing else.
- APQ (apps): ``extensions.persistedQuery.sha256Hash``. An unknown hash without a
  query answers ``PERSISTED_QUERY_NOT_FOUND``; the client then sends the query with
  its hash, which is checked here and remembered (``register``) once the operation
  is admitted, so only documents that parse, validate and keep to the limits are
  stored, in the cache (shared between instances when the cache is Redis). A
  document over ``APQ_MAX_BYTES`` runs but is not remembered, nor is one past its
  key's budget of stored documents (``APQ_DOCUMENTS_PER_KEY``): a key sending a new
  document every time would otherwise fill the cache for a week.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import msgspec

from sources.cache.backend import KeyValue, TokenBuckets

APQ_TTL_S = 7 * 24 * 3600.0
# Within the token limit a document is small unless it carries long literals: those
# are run, not stored for a week.
APQ_MAX_BYTES = 16_384
# Each key may store this many documents at once, and as many more a day: an app
# registers its operations once a deploy, while a key can keep at most
# 100 + 7 x 100 documents (12.5 MiB) in the cache at any time, not one per request.
APQ_DOCUMENTS_PER_KEY = 100
APQ_BUDGET_WINDOW_S = 24 * 3600.0
BUDGET_PREFIX = "og:apq-budget:"


class ApqStore(KeyValue, TokenBuckets, Protocol):
    """Where APQ documents and each key's budget of them are kept: the cache."""


class PersistedQueryError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def load_manifest(path: str | None) -> dict[str, str]:
    """The trusted documents of the manifest at ``path`` (none without a path)."""
    if not path:
        return {}
    try:
        manifest = msgspec.json.decode(Path(path).read_bytes(), type=dict[str, str])
    except (OSError, msgspec.DecodeError) as exc:
        raise ValueError(f"persisted operations manifest {path}: {exc}") from exc
    return manifest


def sha256_hex(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Resolved:
    query: str | None
    apq_hash: str | None = None  # sent with its query: to ``register`` once admitted
    trusted_id: str | None = None  # the manifest's id, for a trusted document


class PersistedQueries:
    def __init__(self, manifest: Mapping[str, str], backend: ApqStore) -> None:
        self._manifest = dict(manifest)
        self._backend = backend

    async def resolve(self, payload: Mapping[str, Any], *, trusted_only: bool) -> Resolved:
        """The query text of ``payload``, and its APQ hash if it is not known yet.

        Raises ``PersistedQueryError`` for an unknown id or hash, a hash that does not
        match its query, or an ad-hoc query when ``trusted_only``.
        """
        query = payload.get("query")
        document_id = payload.get("documentId") or payload.get("id")
        extensions = payload.get("extensions") or {}
        persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
        apq_hash = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
        for ident in (document_id, apq_hash):
            if isinstance(ident, str) and ident in self._manifest:
                return Resolved(self._manifest[ident], trusted_id=ident)
        if trusted_only:
            raise PersistedQueryError(
                403, "PERSISTED_QUERY_REQUIRED", "this API key may run persisted operations only"
            )
        if document_id is not None:
            raise PersistedQueryError(400, "PERSISTED_QUERY_NOT_FOUND", "unknown documentId")
        if not isinstance(apq_hash, str):
            return Resolved(query if isinstance(query, str) else None)
        if isinstance(query, str):
            if sha256_hex(query) != apq_hash.lower():
                raise PersistedQueryError(
                    400, "PERSISTED_QUERY_HASH_MISMATCH", "sha256Hash does not match the query"
                )
            return Resolved(query, apq_hash)
        (stored,) = await self._backend.get_many([_apq_key(apq_hash)])
        if stored is None:
            # Apollo's protocol: answered with 200, the client retries with the query.
            raise PersistedQueryError(200, "PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound")
        return Resolved(stored.decode())

    async def register(self, apq_hash: str, query: str, key_id: str) -> None:
        """Remember an admitted APQ document for ``APQ_TTL_S``, unless it is too large
        or ``key_id``'s budget of documents is spent (or cannot be read): it ran, and
        the client sends it again next time."""
        data = query.encode()
        if len(data) > APQ_MAX_BYTES:
            return
        budget = await self._backend.take_tokens(
            BUDGET_PREFIX + key_id,
            1,
            APQ_DOCUMENTS_PER_KEY,
            APQ_DOCUMENTS_PER_KEY / APQ_BUDGET_WINDOW_S,
        )
        if budget is not None and budget.allowed:
            await self._backend.set_many([(_apq_key(apq_hash), data, APQ_TTL_S)], {})


def _apq_key(sha256_hash: str) -> str:
    return f"og:apq:{sha256_hash.lower()}"
