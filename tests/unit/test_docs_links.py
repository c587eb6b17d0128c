"""Every relative link of README.md and docs/ reaches a file, and every #anchor a heading.

Links and images are read from the Markdown outside code (fenced blocks and inline
code spans); absolute URLs (`https:`, `mailto:`...) are not followed. An anchor must
be the slug of a heading of the target page, as GitHub makes it: lower-case, spaces
to `-`, punctuation dropped, `-1`, `-2`... after a repeated heading.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted([*REPO_ROOT.glob("*.md"), *(REPO_ROOT / "docs").rglob("*.md")])

FENCE = re.compile(r"^ {0,3}(```|~~~)")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
# [text](target) and ![alt](target); the text may hold one level of brackets
# (an image inside a link); the target may be <...> or end at a space before a title.
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
HTML_ID = re.compile(r"<a\s[^>]*(?:id|name)=\"([^\"]+)\"")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def outside_code(markdown: str) -> list[str]:
    """The page's lines with fenced blocks emptied and code spans removed."""
    lines, fenced = [], False
    for line in markdown.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            lines.append("")
        else:
            lines.append("" if fenced else CODE_SPAN.sub("", line))
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor of a heading's text."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "")  # HTML tags, code marks
    text = re.sub(r"[^\w\- ]", "", text.lower())  # punctuation dropped, \w is Unicode
    return text.replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    """Every anchor a page offers: its headings' slugs (repeats numbered) and HTML ids."""
    seen: Counter[str] = Counter()
    found = set()
    fenced = False
    for line in markdown.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        if fenced:
            continue
        found.update(HTML_ID.findall(line))
        heading = HEADING.match(line)
        if heading:
            base = slug(heading.group(2))
            found.add(f"{base}-{seen[base]}" if seen[base] else base)
            seen[base] += 1
    return found


def links(markdown: str) -> list[tuple[int, str]]:
    """(line number, target) of every link and image outside code."""
    return [
        (number, target.strip("<>"))
        for number, line in enumerate(outside_code(markdown), start=1)
        for target in LINK.findall(line)
    ]


def broken_links(page: Path, root: Path = REPO_ROOT) -> list[str]:
    """What is wrong with the page's relative links, one line each."""
    problems = []
    for number, target in links(page.read_text(encoding="utf-8")):
        if SCHEME.match(target) or target.startswith("//"):
            continue
        parts = urlsplit(target)
        path = (page.parent / unquote(parts.path)).resolve() if parts.path else page
        where = f"{page.relative_to(root)}:{number}: {target}"
        if not path.is_relative_to(root):
            problems.append(f"{where}: points outside the repository")
        elif not path.exists():
            problems.append(f"{where}: no such file")
        elif parts.fragment:
            if path.suffix != ".md":
                problems.append(f"{where}: an anchor into a file that is not Markdown")
            elif unquote(parts.fragment) not in anchors(path.read_text(encoding="utf-8")):
                problems.append(f"{where}: no heading #{parts.fragment} in {path.name}")
    return problems


def test_the_pages_are_found():
    names = {page.relative_to(REPO_ROOT).as_posix() for page in PAGES}
    assert {"README.md", "docs/api.md", "docs/performance.md"} <= names


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(REPO_ROOT).as_posix() for p in PAGES])
def test_every_relative_link_and_anchor_resolves(page: Path) -> None:
    assert broken_links(page) == []


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("Many hosts, one Redis", "many-hosts-one-redis"),
        ("Signed shoppers (`FLASHSALE_AUTH=jwt`)", "signed-shoppers-flashsale_authjwt"),
        ("Every answer is honest: no ghost sales", "every-answer-is-honest-no-ghost-sales"),
        ("The allocator's connections", "the-allocators-connections"),
        ("`flash`: shoppers and a verdict", "flash-shoppers-and-a-verdict"),
        ("Open pages: memory, and one address", "open-pages-memory-and-one-address"),
        ("Tuning workers and limits", "tuning-workers-and-limits"),
        ("Café für alle", "café-für-alle"),
    ],
)
def test_anchors_follow_githubs_slugs(heading: str, anchor: str) -> None:
    assert slug(heading) == anchor


def test_a_repeated_heading_gets_a_number_and_code_is_not_a_heading():
    page = '# A\n\n## Notes\n\n```sh\n# Notes\n```\n\n## Notes\n\n<a id="here"></a>\n'
    assert anchors(page) == {"a", "notes", "notes-1", "here"}


def test_broken_links_anchors_and_images_are_each_found(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "other.md").write_text("# Other\n\n## Kept heading\n", encoding="utf-8")
    (tmp_path / "docs" / "picture.png").write_bytes(b"")
    page = tmp_path / "docs" / "page.md"
    page.write_text(
        "# Page\n\n"
        "[fine](other.md#kept-heading) ![fine](picture.png) [here](#page) <https://x.org>\n"
        "[gone](missing.md) ![gone](missing.png) [no heading](other.md#lost)\n"
        "[own](#nowhere) [out](../../outside.md) [web](https://example.com/#x)\n"
        "`[in code](missing-too.md)`\n\n```md\n[in a block](missing-too.md)\n```\n",
        encoding="utf-8",
    )
    assert broken_links(page, root=tmp_path) == [
        "docs/page.md:4: missing.md: no such file",
        "docs/page.md:4: missing.png: no such file",
        "docs/page.md:4: other.md#lost: no heading #lost in other.md",
        "docs/page.md:5: #nowhere: no heading #nowhere in page.md",
        "docs/page.md:5: ../../outside.md: points outside the repository",
    ]
