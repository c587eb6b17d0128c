"""Every setting is declared once (flashsale.config); the docs and the admin API follow it."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from flashsale.api import admin_terms
from flashsale.api.openapi import openapi_document
from flashsale.config import Settings, declared
from flashsale.errors import InvalidInput
from flashsale.setting import Integer, Number, declarations
from scripts.settings_doc import BEGIN, END, PAGE, REGENERATE, block, page_table, with_table

ALL = list(declarations(Settings))


def test_the_configuration_page_lists_the_declared_settings():
    assert page_table(PAGE.read_text(encoding="utf-8")) == block(), (
        f"docs/configuration.md's table differs from flashsale/config.py: run `{REGENERATE}`"
    )


def test_the_table_is_replaced_and_nothing_else():
    page = f"# X\n\nProse.\n\n{BEGIN}\n| a | b |\n|---|---|\n| 1 | 2 |\n\n{END}\nAfter.\n"
    assert with_table(page) == f"# X\n\nProse.\n\n{BEGIN}{block()}{END}\nAfter.\n"
    assert "| `FLASHSALE_BIND` |" in block()


def test_an_empty_place_between_the_markers_takes_the_table():
    assert page_table(with_table(f"{BEGIN}{END}")) == block()


def test_each_variable_is_declared_once_and_documented():
    counts = Counter(declaration.env for _path, declaration, _default in ALL)
    assert [env for env, count in counts.items() if count > 1] == []
    for _path, declaration, _default in ALL:
        assert declaration.doc and "|" not in declaration.doc + declaration.rule()


@pytest.mark.parametrize(("path", "declaration", "default"), ALL, ids=[path for path, *_ in ALL])
def test_each_default_is_valid(path, declaration, default):
    if isinstance(declaration, Integer | Number):
        assert declaration.low <= default <= declaration.high
    elif isinstance(default, str):
        assert declaration.parse(default) == default
    elif isinstance(default, tuple):
        assert declaration.parse(",".join(default)) == default
    else:
        assert default is None or declaration.parse(str(default)) == default


def test_the_admin_api_takes_the_declared_bounds():
    stock = declared("stock", Integer)
    with pytest.raises(InvalidInput) as refused:
        admin_terms.sale_terms({"stock": stock.high + 1}, Settings().product)
    assert f"[{stock.low}, {stock.high}]" in str(refused.value.description)
    terms = admin_terms.sale_terms({"stock": stock.high}, Settings().product)
    assert (terms.products[0].stock, terms.per_user_limit) == (
        stock.high,
        Settings().per_user_limit,
    )


def test_the_openapi_document_states_the_declared_bounds():
    sale = json.loads(openapi_document())["components"]["schemas"]["SaleSpec"]["properties"]
    for key, name in (("stock", "stock"), ("perUserLimit", "per_user_limit")):
        bounds = declared(name, Integer)
        assert (sale[key]["minimum"], sale[key]["maximum"]) == (bounds.low, bounds.high), key
    assert sale["perUserLimit"]["default"] == Settings().per_user_limit
