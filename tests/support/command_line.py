"""Command lines for the tests' subprocesses, their options written as a table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def command_line(words: Sequence[str], options: Mapping[str, object]) -> list[str]:
    """`words`, then each option in order with its value; an option whose value is None
    is a flag, given alone."""
    line = list(words)
    for option, value in options.items():
        line.append(option)
        if value is not None:
            line.append(str(value))
    return line
