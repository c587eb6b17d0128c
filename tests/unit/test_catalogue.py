from __future__ import annotations

import json

import pytest

from flashsale.catalogue import MAX_PRODUCTS, Product, parse_products
from flashsale.config import Settings
from flashsale.errors import ConfigError, InvalidInput


def spec(**fields) -> dict:
    return {
        "sku": "s42",
        "name": "Size 42",
        "priceCents": 12000,
        "currency": "EUR",
        "stock": 5,
        **fields,
    }


def parse(products, limit: int = 2) -> tuple[Product, ...]:
    return parse_products(products, max_stock=100, sale_limit=limit)


def test_a_product_is_read_with_its_defaults():
    (product,) = parse([spec()])
    assert product == Product("s42", "Size 42", "", 12000, "EUR", None, 5, None)
    assert Product.from_spec(product.spec_json()) == product


@pytest.mark.parametrize(
    ("products", "names"),
    [
        ([], "products"),
        ([spec()] * 2, "same sku"),
        ([spec(sku=f"s{i}") for i in range(MAX_PRODUCTS + 1)], "products"),
        ([spec(sku="s 42")], "sku"),
        ([spec(sku="x" * 65)], "sku"),
        ([spec(sku="")], "sku"),
        ([spec(name="")], "name"),
        ([spec(name="a\x00b")], "name"),
        ([spec(description="x" * 2001)], "description"),
        ([spec(priceCents=-1)], "priceCents"),
        ([spec(priceCents=1.5)], "priceCents"),
        ([spec(priceCents=True)], "priceCents"),
        ([spec(currency="eur")], "currency"),
        ([spec(currency="EURO")], "currency"),
        ([spec(stock=101)], "stock"),
        ([spec(sku="a", stock=60), spec(sku="b", stock=60)], "adds up"),
        ([spec(perUserLimit=3)], "perUserLimit"),  # above the sale's limit of 2
        ([spec(perUserLimit=0)], "perUserLimit"),
        ([spec(imageUrl="http://example.com/a.png")], "imageUrl"),  # the page allows https only
        ([spec(imageUrl="javascript:alert(1)")], "imageUrl"),
        ([spec(imageUrl="/flash-sale/images/../journal.db")], "imageUrl"),
        ([spec(colour="red")], "colour"),
        (["s42"], "object"),
    ],
)
def test_a_product_that_cannot_be_sold_is_refused_naming_its_fault(products, names):
    with pytest.raises(InvalidInput) as refused:
        parse(products)
    assert names in f"{refused.value.title} {refused.value.description}"


def test_pictures_by_https_or_from_the_images_folder():
    web, local = parse(
        [
            spec(sku="a", imageUrl="https://cdn.example/a.webp"),
            spec(sku="b", imageUrl="/flash-sale/images/b.png"),
        ]
    )
    assert (web.image_url, local.image_url) == (
        "https://cdn.example/a.webp",
        "/flash-sale/images/b.png",
    )


def test_the_first_sale_comes_from_the_settings_or_a_catalogue_file(tmp_path):
    (default,) = Settings.from_env({"FLASHSALE_STOCK": "7"}).first_products()
    assert (default.sku, default.stock, default.currency) == ("aurora-anc", 7, "EUR")
    file = tmp_path / "catalogue.json"
    file.write_text(json.dumps({"products": [spec(sku="a", stock=3), spec(sku="b", stock=4)]}))
    products = Settings.from_env({"FLASHSALE_CATALOGUE_FILE": str(file)}).first_products()
    assert [(p.sku, p.stock) for p in products] == [("a", 3), ("b", 4)]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("not json", "cannot read"),
        ('{"items": []}', "must hold"),
        ('{"products": [{"sku": "a"}]}', "name"),
    ],
)
def test_a_catalogue_file_that_cannot_be_sold_stops_start_up(tmp_path, text, says):
    file = tmp_path / "catalogue.json"
    file.write_text(text)
    with pytest.raises(ConfigError, match="FLASHSALE_CATALOGUE_FILE") as refused:
        Settings.from_env({"FLASHSALE_CATALOGUE_FILE": str(file)})
    assert says in str(refused.value)
