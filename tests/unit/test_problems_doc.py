"""Every problem type is declared once (flashsale.api.problems); the API docs follow it."""

from __future__ import annotations

import re
from http import HTTPStatus

from flashsale.api.problems import BY_SLUG, BY_STATUS, PROBLEMS
from scripts.problems_doc import BEGIN, END, PAGE, REGENERATE, block, page_table, with_table


def test_the_api_docs_list_the_declared_problem_types():
    assert page_table(PAGE.read_text(encoding="utf-8")) == block(), (
        f"{PAGE.name}'s table of problem types differs from flashsale/api/problems.py: "
        f"run `{REGENERATE}`"
    )


def test_the_table_is_replaced_and_nothing_else():
    page = f"# API\n\nProse.\n\n{BEGIN}| old |\n{END}\nAfter.\n"
    assert with_table(page) == f"# API\n\nProse.\n\n{block()}\nAfter.\n"


def test_each_type_is_declared_once_with_an_error_code_a_title_and_a_meaning():
    assert len(BY_SLUG) == len(PROBLEMS)
    for problem in PROBLEMS:
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", problem.slug), problem.slug
        assert 400 <= problem.status <= 599 and HTTPStatus(problem.status)
        assert problem.title and problem.meaning.endswith(".")
        assert "|" not in problem.title + problem.meaning  # a cell of the table
    assert len({problem.title for problem in PROBLEMS}) == len(PROBLEMS)


def test_an_error_known_only_by_its_code_gets_a_type_of_that_code():
    for status, problem in BY_STATUS.items():
        assert problem.status == status
