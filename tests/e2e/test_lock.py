"""The lock: `requirements.lock` pins an exact version of everything OrderGraph and its
tests install, README's commands, `.ci/run` and the Dockerfile all install through it,
and every pin satisfies the compatible ranges pyproject.toml declares for people who
install OrderGraph as a library."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.support.processes import ROOT

LOCK_FILE = "requirements.lock"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)\s*$")


def _pins() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for line in (ROOT / LOCK_FILE).read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = PIN.match(line)
        assert match, f"{LOCK_FILE}: not an exact pin: {line!r}"
        pins[canonicalize_name(match[1])] = Version(match[2])
    return pins


def _declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project.get("optional-dependencies", {})
    texts = project["dependencies"] + [text for group in extras.values() for text in group]
    return [Requirement(text) for text in texts]


PINS = _pins()
DECLARED = _declared()


def test_every_declared_dependency_is_pinned_within_its_range():
    for requirement in DECLARED:
        name = canonicalize_name(requirement.name)
        assert name in PINS, f"{requirement.name} is not in {LOCK_FILE}"
        assert requirement.specifier.contains(PINS[name], prereleases=True), (
            f"{LOCK_FILE} pins {name}=={PINS[name]}, outside pyproject's {requirement}"
        )


def test_runtime_ranges_have_upper_bounds():
    """A new major version may break us: every runtime range (and the build
    backend's) stops before the next."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    # The build backend too: pip fetches it outside the lock.
    for text in pyproject["project"]["dependencies"] + pyproject["build-system"]["requires"]:
        requirement = Requirement(text)
        assert any(spec.operator in ("<", "<=", "==", "~=") for spec in requirement.specifier), (
            f"{text}: no upper bound"
        )


def test_the_running_environment_was_installed_through_the_lock():
    """README's test command installs with `-c requirements.lock`: each locked package
    that is installed here has exactly the locked version."""
    differing = {}
    for dist in metadata.distributions():
        name = canonicalize_name(dist.metadata["Name"])
        if name in PINS and Version(dist.version) != PINS[name]:
            differing[name] = f"installed {dist.version}, locked {PINS[name]}"
    assert not differing, differing


def test_every_install_goes_through_the_lock():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```sh\n(.*?)```", readme, re.S)[:2]
    ci = (ROOT / ".ci" / "run").read_text()
    dockerfile = (ROOT / "Dockerfile").read_text()
    for where, text in [*(("README", c) for c in commands), (".ci/run", ci)]:
        installs = re.findall(r"pip install [^&\n]*", text)
        assert installs, f"{where} installs nothing"
        assert all(f"-c {LOCK_FILE}" in step for step in installs), (where, installs)
    assert LOCK_FILE in dockerfile
    assert all(f"-c {LOCK_FILE}" in step for step in re.findall(r"pip install [^&\n]*", dockerfile))
