"""``--help`` as a newcomer reads it: an example a command, a meaning and a default an option."""

from __future__ import annotations

import argparse

import pytest

from bulkfetch.cli.app import _parser


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = _parser()
    (commands,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {"bulkfetch": parser, **commands.choices}


@pytest.mark.parametrize("name", sorted(_commands()))
def test_every_command_shows_examples_and_explains_every_option(name: str) -> None:
    """Examples after the options; help text for each; each default that means something said."""
    command = _commands()[name]
    text = command.format_help()
    assert "examples:\n  bulkfetch " in text
    for action in command._actions:
        if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
            continue
        assert action.help, f"{name} {action.option_strings or action.dest} has no help"
        said = command._get_formatter()._get_help_string(action)  # as --help writes it
        default = action.default
        if action.option_strings and action.nargs != 0 and default not in (None, "", []):
            assert "default" in (said or ""), f"{name} {action.option_strings} hides its default"
