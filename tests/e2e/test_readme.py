"""README is a five-minute read: what OrderGraph is and for whom, one picture of the
data flow, the two commands near the top (CI runs exactly the second), three example
queries and links to the reference in docs/. Its examples and links run in
tests/e2e/test_docs.py, with the rest of the pages'."""

from __future__ import annotations

import re

from tests.support.processes import ROOT

README = (ROOT / "README.md").read_text()
SH_BLOCKS = re.findall(r"```sh\n(.*?)```", README, re.S)
INSTALL_AND_DEMO = (
    "python3 -m venv .venv && . .venv/bin/activate"
    " && pip install -c requirements.lock . && ordergraph demo"
)
RUN_TESTS = "python3 -m pip install -q -c requirements.lock -e '.[test]' && python3 -m pytest"


def test_the_two_commands_are_on_top():
    assert [block.strip() for block in SH_BLOCKS] == [INSTALL_AND_DEMO, RUN_TESTS]
    # A fresh virtual environment: a system Python under PEP 668 refuses `pip install`;
    # the lock pins what the project was tested with.
    assert (ROOT / "requirements.lock").is_file()
    assert README.index(RUN_TESTS) < 2500, "the commands belong near the top"


def test_ci_runs_exactly_the_readme_test_command():
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert RUN_TESTS in ci_lines


def test_one_picture_of_the_data_flow():
    (picture,) = re.findall(r"```mermaid\n(.*?)```", README, re.S)
    for part in ("apps", "consoles", "partners", "gateway", "Redis", "OMS", "inventory"):
        assert part in picture, part
    for part in ("carrier", "ticketing"):
        assert part in picture, part
    assert README.index("```mermaid") < README.index(RUN_TESTS)


def test_three_examples_and_nothing_reference_like():
    assert re.findall(r"```graphql\n# With the demo's \w+ key\nquery (\w+)", README) == [
        "OrderStatusPage",
        "ConsoleOrder",
        "OrdersPage",
    ]
    headings = re.findall(r"^## (.*)$", README, re.M)
    assert headings == ["Run it", "Example queries", "Read more"]
