"""What a sale sells: its products, each with its own stock, and how they are read and shown.

A product is a size or a colour of the launch: its own stock, one sku, one
price. Pure logic, no I/O: the admin API, the settings and the journal all
build products through `parse_products`, so a product has one set of rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flashsale.errors import InvalidSale

MAX_PRODUCTS = 64
SKU_RULE = "1-64 characters of A-Z, a-z, 0-9, '.', '_' and '-'"
NAME_MAX_CHARS = 120
DESCRIPTION_MAX_CHARS = 2000
IMAGE_URL_MAX_CHARS = 2048
MAX_PRICE_CENTS = 10**12
# Where the server serves the pictures of its images folder (flashsale.api.images).
IMAGES_PATH = "/flash-sale/images/"

_SKU = re.compile(r"[A-Za-z0-9._-]{1,64}").fullmatch
_CURRENCY = re.compile(r"[A-Z]{3}").fullmatch
# A picture the shop page may load (its CSP allows these): https, or a file of the
# server's images folder.
_IMAGE_URL = re.compile(r"https://[^\s\"'<>\\]+|/flash-sale/images/[A-Za-z0-9._-]+").fullmatch
_FIELDS = {
    "sku",
    "name",
    "description",
    "priceCents",
    "currency",
    "imageUrl",
    "stock",
    "perUserLimit",
}


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    description: str
    price_cents: int
    currency: str
    image_url: str | None
    stock: int
    per_user_limit: int | None  # None: only the sale's limit applies

    def catalogue_json(self) -> dict[str, Any]:
        """The product as shoppers see it, without its stock figures."""
        return {
            "sku": self.sku,
            "name": self.name,
            "description": self.description,
            "priceCents": self.price_cents,
            "currency": self.currency,
            "imageUrl": self.image_url,
            "perUserLimit": self.per_user_limit,
        }

    def spec_json(self) -> dict[str, Any]:
        """The product as the admin API takes it (and the allocator's frames carry it)."""
        return {**self.catalogue_json(), "stock": self.stock}

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Product:
        """A product from `spec_json` that `parse_products` has checked already."""
        return cls(
            spec["sku"],
            spec["name"],
            spec["description"],
            spec["priceCents"],
            spec["currency"],
            spec["imageUrl"],
            spec["stock"],
            spec["perUserLimit"],
        )


@dataclass(frozen=True)
class ProductSettings:
    """The one product of the embedded default sale (flashsale.config reads these)."""

    sku: str = "aurora-anc"
    name: str = "Aurora ANC Headphones"
    description: str = (
        "Wireless noise-cancelling headphones with 40 hours of battery. "
        "One per shopper, first come, first served."
    )
    price_cents: int = 4900
    currency: str = "EUR"
    image_url: str = IMAGES_PATH + "aurora.svg"

    def product(self, stock: int) -> Product:
        """Checked as the admin API checks a product: raises InvalidInput."""
        spec = {
            "sku": self.sku,
            "name": self.name,
            "description": self.description,
            "priceCents": self.price_cents,
            "currency": self.currency,
            "imageUrl": self.image_url or None,
            "stock": stock,
        }
        return parse_products([spec], max_stock=stock, sale_limit=1, field="product")[0]


def valid_sku(value: object) -> bool:
    return isinstance(value, str) and _SKU(value) is not None


def valid_currency(value: str) -> bool:
    return _CURRENCY(value) is not None


def valid_image_url(value: str) -> bool:
    return len(value) <= IMAGE_URL_MAX_CHARS and _IMAGE_URL(value) is not None


def parse_products(
    value: object, *, max_stock: int, sale_limit: int, field: str = "products"
) -> tuple[Product, ...]:
    """The products of a sale, from their JSON list; raises InvalidInput naming the fault."""
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_PRODUCTS:
        raise InvalidSale(f"Invalid {field}", f"{field} must be a list of 1 to {MAX_PRODUCTS}")
    products = tuple(
        _product(item, f"{field}[{index}]", max_stock, sale_limit)
        for index, item in enumerate(value)
    )
    skus = [product.sku for product in products]
    if len(set(skus)) != len(skus):
        raise InvalidSale(f"Invalid {field}", "two products have the same sku")
    if sum(product.stock for product in products) > max_stock:
        raise InvalidSale(f"Invalid {field}", f"the products' stock adds up to over {max_stock}")
    return products


def _product(item: object, where: str, max_stock: int, sale_limit: int) -> Product:
    if not isinstance(item, Mapping):
        raise InvalidSale(f"Invalid {where}", f"{where} must be an object")
    unexpected = sorted(set(item) - _FIELDS)
    if unexpected:
        raise InvalidSale(f"Invalid {where}", f"unexpected field {unexpected[0]!r}")
    sku = item.get("sku")
    if not valid_sku(sku):
        raise InvalidSale(f"Invalid {where}.sku", f"{where}.sku must be {SKU_RULE}")
    assert isinstance(sku, str)
    limit = item.get("perUserLimit")
    return Product(
        sku=sku,
        name=_text(item, "name", where, low=1, high=NAME_MAX_CHARS),
        description=_text(item, "description", where, low=0, high=DESCRIPTION_MAX_CHARS),
        price_cents=_integer(item.get("priceCents"), f"{where}.priceCents", 0, MAX_PRICE_CENTS),
        currency=_currency(item.get("currency"), f"{where}.currency"),
        image_url=_image_url(item.get("imageUrl"), f"{where}.imageUrl"),
        stock=_integer(item.get("stock"), f"{where}.stock", 0, max_stock),
        per_user_limit=None
        if limit is None
        else _integer(limit, f"{where}.perUserLimit", 1, sale_limit),
    )


def _integer(value: object, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidSale(f"Invalid {name}", f"{name} must be an integer within [{low}, {high}]")
    return value


def _text(item: Mapping[str, object], key: str, where: str, *, low: int, high: int) -> str:
    value = item.get(key, "" if low == 0 else None)
    # Line breaks are text too (a description's paragraphs); other controls are not.
    if (
        not isinstance(value, str)
        or not low <= len(value) <= high
        or not value.replace("\n", "").isprintable()
    ):
        raise InvalidSale(
            f"Invalid {where}.{key}",
            f"{where}.{key} must be text of {low} to {high} printable characters",
        )
    return value


def _currency(value: object, name: str) -> str:
    if not isinstance(value, str) or _CURRENCY(value) is None:
        raise InvalidSale(f"Invalid {name}", f"{name} must be an ISO 4217 code, e.g. EUR")
    return value


def _image_url(value: object, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > IMAGE_URL_MAX_CHARS or not _IMAGE_URL(value):
        raise InvalidSale(
            f"Invalid {name}",
            f"{name} must be null, an https URL or {IMAGES_PATH}<file> of the images folder",
        )
    return value
