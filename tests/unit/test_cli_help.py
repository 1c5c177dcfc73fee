"""Every ``ordergraph`` option says what it does, its default, and the ``OG_*``
variable it overrides."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from gateway.cli import _parser
from gateway.settings import Settings

# The commands that read the settings; their options named like a setting override it.
SETTINGS_COMMANDS = ("serve", "demo")


def _walk(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser, argparse.Action]]:
    """Every argument of ``parser`` and of its sub-commands, recursively (not -h)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _walk(sub, (*path, name))
        elif not isinstance(action, argparse._HelpAction):
            yield path, parser, action


def _help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    """The help text as ``--help`` prints it (``%(default)s`` expanded)."""
    return parser._get_formatter()._expand_help(action) if action.help else ""


def _name(path: tuple[str, ...], action: argparse.Action) -> str:
    return f"ordergraph {' '.join(path)} {'/'.join(action.option_strings) or action.dest}"


def test_the_walk_sees_every_command():
    commands = {path for path, _, _ in _walk(_parser())}
    assert {("demo",), ("sim",), ("serve",), ("keys", "create"), ("keys", "rotate")} <= commands


def test_every_option_has_help_stating_its_default():
    problems = []
    for path, parser, action in _walk(_parser()):
        text = _help(parser, action)
        if not text or action.help == argparse.SUPPRESS:
            problems.append(f"{_name(path, action)}: no help")
        elif not action.option_strings:
            continue  # a positional: always given
        elif action.required and "required" not in text:
            problems.append(f"{_name(path, action)}: does not say it is required")
        elif not action.required and "default" not in text:
            problems.append(f"{_name(path, action)}: no default in {text!r}")
    assert not problems, "\n".join(problems)


def test_every_command_has_help():
    def commands(parser: argparse.ArgumentParser, path: str) -> Iterator[tuple[str, str]]:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                helps = {choice.dest: choice.help for choice in action._choices_actions}
                for name, sub in action.choices.items():
                    yield f"{path} {name}", helps.get(name) or ""
                    yield from commands(sub, f"{path} {name}")

    missing = [name for name, text in commands(_parser(), "ordergraph") if not text]
    assert not missing


def test_options_overriding_a_setting_name_its_variable():
    checked = []
    for path, parser, action in _walk(_parser()):
        if path[0] in SETTINGS_COMMANDS and action.dest in Settings.__struct_fields__:
            variable = f"OG_{action.dest.upper()}"
            assert variable in _help(parser, action), _name(path, action)
            checked.append(_name(path, action))
    assert len(checked) == 5  # --host and --port of serve and demo, serve's --workers


def test_serve_help_ends_pointing_to_the_settings_page():
    (serve,) = {parser for path, parser, _ in _walk(_parser()) if path == ("serve",)}
    assert serve.format_help().rstrip().endswith("docs/settings.md")
