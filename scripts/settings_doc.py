"""The table of settings in docs/configuration.md, written from flashsale.config's declarations.

    python scripts/settings_doc.py            # print the table
    python scripts/settings_doc.py --write    # replace the table in docs/configuration.md
    python scripts/settings_doc.py --check    # exit 1 when the page's table differs

The table sits between the page's BEGIN and END markers, nothing else of the page is
touched. tests/unit/test_settings_doc.py fails when the page's table and the declarations differ.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from flashsale.config import REPO_ROOT, Settings
from flashsale.setting import Setting, declarations

PAGE = REPO_ROOT / "docs" / "configuration.md"
# HTML comments, which Markdown does not show.
BEGIN = "<!-- BEGIN settings table: written by python scripts/settings_doc.py --write -->\n"
END = "<!-- END settings table -->\n"
HEADER = ("| Variable | Default | Meaning |", "|---|---|---|")
REGENERATE = "python scripts/settings_doc.py --write"


def shown_default(declaration: Setting[object], default: object) -> str:
    """A default as the page shows it: paths inside the checkout relative to it."""
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


def block() -> str:
    """What goes between the markers: the table, a blank line either side (a block of its own)."""
    return f"\n{table()}\n"


def table_span(page: str) -> tuple[int, int]:
    """Where the text between the page's BEGIN and END markers starts and ends."""
    start = page.index(BEGIN) + len(BEGIN)
    return start, page.index(END, start)


def page_table(page: str) -> str:
    start, end = table_span(page)
    return page[start:end]


def with_table(page: str) -> str:
    start, end = table_span(page)
    return page[:start] + block() + page[end:]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python scripts/settings_doc.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true", help=f"replace the table in {PAGE.name}")
    action.add_argument("--check", action="store_true", help=f"exit 1 when {PAGE.name} differs")
    args = parser.parse_args(argv)
    if not (args.write or args.check):
        sys.stdout.write(table())
        return 0
    page = PAGE.read_text(encoding="utf-8")
    if args.write:
        PAGE.write_text(with_table(page), encoding="utf-8")
        return 0
    if page_table(page) != block():
        print(
            f"docs/configuration.md's settings table is out of date: run {REGENERATE}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
