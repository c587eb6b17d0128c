"""The table of problem types in the API docs, written from flashsale.api.problems.

    python scripts/problems_doc.py            # print the table
    python scripts/problems_doc.py --write    # replace the table in the page
    python scripts/problems_doc.py --check    # exit 1 when the page's table differs

The table sits between the page's BEGIN and END markers; nothing else of the page is
touched. tests/unit/test_problems_doc.py fails when the page's table and the registry differ.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from flashsale.api.problems import PROBLEMS, ProblemType
from flashsale.config import REPO_ROOT

PAGE = REPO_ROOT / "docs" / "api.md"
# HTML comments, which Markdown does not show.
BEGIN = "<!-- BEGIN problem types: written by python scripts/problems_doc.py --write -->\n"
END = "<!-- END problem types -->\n"
HEADER = ("| `type` | HTTP | `title` | Meaning |", "|---|---|---|---|")
REGENERATE = "python scripts/problems_doc.py --write"


def row(problem: ProblemType) -> str:
    return f"| `{problem.uri}` | {problem.status} | {problem.title} | {problem.meaning} |"


def table() -> str:
    """The Markdown table of every problem type, in the registry's order."""
    return "\n".join([*HEADER, *(row(problem) for problem in PROBLEMS)]) + "\n"


def block() -> str:
    return BEGIN + table() + END


def page_table(page: str) -> str:
    """What the page holds between its markers (markers included)."""
    start = page.index(BEGIN)
    end = page.index(END, start) + len(END)
    return page[start:end]


def with_table(page: str) -> str:
    """The page with the table between its markers written anew."""
    return page.replace(page_table(page), block(), 1)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true", help=f"replace the table in {PAGE.name}")
    action.add_argument("--check", action="store_true", help="exit 1 when the page differs")
    args = parser.parse_args(argv)
    if not (args.write or args.check):
        sys.stdout.write(table())
        return 0
    page = PAGE.read_text(encoding="utf-8")
    if args.check:
        if page_table(page) != block():
            print(f"{PAGE.name}'s problem types are stale: run {REGENERATE}", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(with_table(page), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
