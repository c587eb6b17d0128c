"""README's table of settings, written from their declarations in flashsale.config.

    python -m flashsale.settings_doc            # print the table
    python -m flashsale.settings_doc --write    # replace the table in README.md
    python -m flashsale.settings_doc --check    # exit 1 when README.md's table differs

tests/unit/test_settings_doc.py fails when README's table and the declarations differ.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from flashsale.config import REPO_ROOT, Settings
from flashsale.setting import Setting, declarations

README = REPO_ROOT / "README.md"
SECTION = "## Configuration"
HEADER = ("| Variable | Default | Meaning |", "|---|---|---|")
REGENERATE = "python -m flashsale.settings_doc --write"


def shown_default(declaration: Setting[object], default: object) -> str:
    """A default as README shows it: paths inside the checkout relative to it."""
    if default is None:
        return f"unset: {declaration.unset}" if declaration.unset else "unset"
    if isinstance(default, Path) and default.is_relative_to(REPO_ROOT):
        default = default.relative_to(REPO_ROOT)
    if isinstance(default, tuple):
        default = ",".join(str(item) for item in default)
    return f"`{default}`"


def meaning(declaration: Setting[object]) -> str:
    rule = declaration.rule()
    return f"{declaration.doc}; valid: {rule}" if rule else declaration.doc


def table() -> str:
    """The Markdown table of every setting, in declaration order."""
    rows = [
        f"| `{declaration.env}` | {shown_default(declaration, default)} | {meaning(declaration)} |"
        for _path, declaration, default in declarations(Settings)
    ]
    return "\n".join([*HEADER, *rows]) + "\n"


def table_span(readme: str) -> tuple[int, int]:
    """Where the first table of README's Configuration section starts and ends."""
    section = readme.index(f"\n{SECTION}\n")
    start = readme.index("\n|", section) + 1
    end = start
    while readme.startswith("|", end):
        end = readme.index("\n", end) + 1
    return start, end


def readme_table(readme: str) -> str:
    start, end = table_span(readme)
    return readme[start:end]


def with_table(readme: str) -> str:
    start, end = table_span(readme)
    return readme[:start] + table() + readme[end:]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m flashsale.settings_doc",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true", help="replace the table in README.md")
    action.add_argument("--check", action="store_true", help="exit 1 when README.md differs")
    args = parser.parse_args(argv)
    if not (args.write or args.check):
        sys.stdout.write(table())
        return 0
    readme = README.read_text(encoding="utf-8")
    if args.write:
        README.write_text(with_table(readme), encoding="utf-8")
        return 0
    if readme_table(readme) != table():
        print(f"README.md's settings table is out of date: run {REGENERATE}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
