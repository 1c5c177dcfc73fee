"""Errors leave in the order of the answer's positions they point at, whichever
source answered first and whichever executor built the answer."""

from __future__ import annotations

from graphql import GraphQLError

from gateway.error_format import in_answer_order


def _error(path: list[str | int] | None) -> GraphQLError:
    return GraphQLError(f"at {path}", path=path)


def test_errors_are_listed_in_the_order_of_the_answer():
    data = {
        "a": {"x": None, "y": [None, {"z": None}]},
        "b": None,
        "c": None,
    }
    paths: list[list[str | int] | None] = [
        ["c"],
        ["a", "y", 1, "z"],
        ["b", "deeper", "gone"],  # under a position nulled by a non-null error
        ["a", "y", 0],
        None,
        ["a", "x"],
    ]
    ordered = in_answer_order([_error(path) for path in paths], data)
    assert [error.path for error in ordered] == [
        None,
        ["a", "x"],
        ["a", "y", 0],
        ["a", "y", 1, "z"],
        ["b", "deeper", "gone"],
        ["c"],
    ]
    assert in_answer_order([_error(["b"]), _error(["a"])], None)[0].path == ["b"]  # kept
