"""What admitting a document costs the event loop: parse, analysis and validation of
documents seen for the first time (a unique trailing comment each run, so no cache
helps), as CPU time of this process (``time.process_time``), median and max of
``--runs`` runs.

Two columns: the limits as configured (``Settings()``'s defaults) and, for the
before, the limits as they were before the field limits (2,000 tokens, no character,
field, selection, repeat or list bound): one field repeated to 2,000 tokens, and its
variants.

    python bench/bench_admission.py [--runs 15]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from gateway.admission.documents import AdmissionError, DocumentAnalyser
from gateway.admission.limits import Limits
from gateway.settings import Settings
from resolvers.schema import build_schema

ORDER_FIELDS = (
    "id number name placedAt updatedAt cancelledAt cancelReason financialStatus"
    " fulfillmentStatus returnStatus"
)


def repeated(tokens: int) -> str:
    return "{ orders(first: 1) { edges { node { " + "id " * (tokens - 16) + "} } } }"


def widest() -> str:
    body = " ".join([ORDER_FIELDS] * 3)
    nested = " ".join(["lineItems { id sku name id sku name id sku name }"] * 3)
    first = f"p0: orders(first: 1) {{ nodes {{ {body} {nested} ...F }} }}"
    second = f"p1: orders(first: 1) {{ nodes {{ {body} lineItems {{ id sku name }} }} }}"
    third = f'order(id: "1") {{ {ORDER_FIELDS} {ORDER_FIELDS} }}'
    return f"{{ {first} {second} {third} }}\nfragment F on Order {{ {body} }}"


DOCUMENTS: dict[str, Callable[[], str]] = {
    "issue: one field, 2,000 tokens": lambda: repeated(1999),  # the comment is a token
    "one field, 500 times": lambda: repeated(516),
    "one field, 100 times": lambda: repeated(116),
    "149 distinct-ish fields (widest admitted)": widest,
    "list literal of 480 ids (list bound in both)": lambda: (
        '{ nodes(ids: ["' + '", "'.join(["x"] * 480) + '"]) { id } }'
    ),
    "1 MB comment": lambda: "{ __typename }\n#" + "x" * 1_000_000,
}


def limits_now() -> Limits:
    return Settings()  # the settings are the document limits


LIMITS_BEFORE = Limits(
    max_document_chars=10**9,
    max_tokens=2000,
    max_fields=10**9,
    max_selections=10**9,
    max_repeats=10**9,
)


def measure(analyser: DocumentAnalyser, document: str, runs: int) -> tuple[float, float, str]:
    times, outcome = [], ""
    for run in range(runs):
        query = f"{document}\n# {run}"
        started = time.process_time()
        try:
            analysis = analyser.analyse(query, None)
            errors = analysis.prepared.validate(analyser.schema)
            outcome = "invalid" if errors else "admitted"
        except AdmissionError as exc:
            outcome = exc.code
        times.append(time.process_time() - started)
    return statistics.median(times) * 1000, max(times) * 1000, outcome


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    schema = build_schema()._schema
    print(f"{'document':44} {'before: p50 / max ms, outcome':40} {'now: p50 / max ms, outcome'}")
    for name, make in DOCUMENTS.items():
        document = make()
        cells = []
        for limits in (LIMITS_BEFORE, limits_now()):
            p50, worst, outcome = measure(DocumentAnalyser(schema, limits), document, runs)
            cells.append(f"{p50:7.2f} / {worst:7.2f}  {outcome}")
        print(f"{name:44} {cells[0]:40} {cells[1]}")


if __name__ == "__main__":
    main()
