"""The GraphQL examples of README.md and docs/*.md: each opens with the demo key that
runs it ("# With the demo's <class> key")."""

from __future__ import annotations

import re

from tests.support.processes import ROOT

DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
EXAMPLE = re.compile(
    r"```graphql\n# With the demo's (\w+) key\n((?:query|subscription) (\w+).*?)```", re.S
)


def examples(text: str) -> dict[str, tuple[str, str]]:
    """operation name -> (key class, document), in page order."""
    return {name: (key, document) for key, document, name in EXAMPLE.findall(text)}


# operation name -> (page, key class, document)
ALL_EXAMPLES = {
    name: (page.relative_to(ROOT).as_posix(), key, document)
    for page in PAGES
    for name, (key, document) in examples(page.read_text()).items()
}
