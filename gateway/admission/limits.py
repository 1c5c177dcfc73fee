"""The limits a GraphQL document must keep (:class:`Limits`).

Free of graphql-core and the schema: the settings, and so the CLI, import it at start."""

from __future__ import annotations

from typing import Annotated

import msgspec

# The ranges a limit read from the settings must be in (checked as they are read).
_AtLeastOne = Annotated[int, msgspec.Meta(ge=1)]  # 0 would allow no document at all
_NoneOrMore = Annotated[int, msgspec.Meta(ge=0)]  # 0: none allowed


class Limits(msgspec.Struct, frozen=True, kw_only=True):
    """What a document may hold. The gateway's ``Settings`` extend this structure, so
    ``OG_MAX_*`` are these fields and the settings are the analyser's limits as read."""

    # Parsing costs about 6.5 µs a token and lexing a comment or string about 0.1 µs a
    # character on the CI machine class: these two keep a refused document's parse
    # under 10 ms. The graph's own documents have under 200 tokens.
    max_document_chars: _AtLeastOne = 16_384  # characters per document, comments included
    max_tokens: _AtLeastOne = 500
    max_depth: _AtLeastOne = 10
    max_aliases: _NoneOrMore = 30
    max_directives: _NoneOrMore = 10
    max_root_fields: _AtLeastOne = 20
    max_cost: _AtLeastOne = 1000
    # Validation (OverlappingFieldsCanBeMerged above all) is quadratic in the fields
    # that share a selection set: these bound its work before it runs.
    # Field selections in the document as written: what validation reads (each
    # fragment once; what fragments multiply, the cost and alias limits bound).
    max_fields: _AtLeastOne = 150
    max_selections: _AtLeastOne = 50  # selections in one selection set, as written
    max_repeats: _AtLeastOne = 3  # the same response key (or spread) in one selection set
