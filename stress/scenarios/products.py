"""The demand mix of a sale of several products: `--products sku=weight[:stock],...`,
each shopper's sku drawn by weight (seeded), and the admin API's body for a sale
of those products. Pure functions, no network.

A shopper asks for one sku on every attempt. Without `--products`, a sale of one
product is bought without a sku (as from before products existed), and a sale
of several is spread evenly over the products its status lists.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from stress.scenarios.plans import UserPlan

SKU = re.compile(r"[A-Za-z0-9._-]{1,64}").fullmatch  # the contract's sku
MAX_PRODUCTS = 64  # of one sale (the admin API's bound)
DEFAULT_STOCK = 100  # of a sale the toolkit creates without --stock
# What a product the toolkit creates is called and costs: the run judges
# quantities, so its catalogue entry only has to be valid.
PRICE_CENTS = 1000
CURRENCY = "EUR"
PRODUCTS_HELP = (
    "demand mix over the sale's products, e.g. 'tee-s=3,tee-m=2,tee-l=1': each shopper "
    'asks for one sku, drawn by weight (--seed) and sent as "sku" in every purchase. '
    "With --admin-token the run creates a sale of these products (name = sku, 10.00 EUR), "
    "--stock split equally over them, or per product as sku=weight:stock (every product "
    "then; --stock, if given, must be their sum). Without --admin-token every sku must be "
    "in the sale as it stands. Default: a one-product sale is bought without a sku, a sale "
    "of several is spread evenly over its products"
)


class ProductsError(ValueError):
    """A --products value that cannot be a demand mix, or one the sale cannot meet."""


@dataclass(frozen=True, slots=True)
class ProductDemand:
    """One product of the mix: its sku, its weight and, when given, its stock."""

    sku: str
    weight: float
    stock: int | None = None


def parse_products(text: str) -> tuple[ProductDemand, ...]:
    """`a=3,b=1` or `a=3:40,b=1:10` into the mix; ProductsError names the bad part."""
    parts = [part.strip() for part in text.split(",")]
    if not text.strip() or not all(parts):
        raise ProductsError(f"--products {text!r}: expected sku=weight[:stock],...")
    mix = tuple(_parse_one(part) for part in parts)
    skus = [product.sku for product in mix]
    duplicates = sorted({sku for sku in skus if skus.count(sku) > 1})
    if duplicates:
        raise ProductsError(f"--products names {', '.join(duplicates)} more than once")
    if len(mix) > MAX_PRODUCTS:
        raise ProductsError(f"--products: {len(mix)} products, a sale has at most {MAX_PRODUCTS}")
    given = [product.stock is not None for product in mix]
    if any(given) and not all(given):
        raise ProductsError("--products: give every product a :stock, or none (--stock splits)")
    return mix


def _parse_one(part: str) -> ProductDemand:
    sku, equals, rest = part.partition("=")
    if not equals or not SKU(sku):
        raise ProductsError(
            f"--products: {part!r} is not sku=weight[:stock] (a sku is 1-64 of A-Z a-z 0-9 . _ -)"
        )
    weight_text, colon, stock_text = rest.partition(":")
    try:
        weight = float(weight_text)
    except ValueError:
        raise ProductsError(
            f"--products: weight {weight_text!r} of {sku} is not a number"
        ) from None
    if not math.isfinite(weight) or weight <= 0:
        raise ProductsError(f"--products: weight of {sku} must be above 0, not {weight_text}")
    if not colon:
        return ProductDemand(sku, weight)
    if not stock_text.isdigit():
        raise ProductsError(f"--products: stock {stock_text!r} of {sku} is not a whole number")
    return ProductDemand(sku, weight, int(stock_text))


def product_stocks(mix: Sequence[ProductDemand], stock: int | None) -> dict[str, int]:
    """Each product's stock: its own, or `stock` (default DEFAULT_STOCK) split equally,
    the first products taking one more of a remainder."""
    if mix and all(product.stock is not None for product in mix):
        own = {product.sku: int(product.stock or 0) for product in mix}
        if stock is not None and stock != sum(own.values()):
            raise ProductsError(
                f"--stock {stock} is not the sum of the products' stock ({sum(own.values())})"
            )
        return own
    total = DEFAULT_STOCK if stock is None else stock
    share, extra = divmod(total, len(mix))
    return {product.sku: share + (index < extra) for index, product in enumerate(mix)}


def sale_products(mix: Sequence[ProductDemand], stock: int | None) -> list[dict[str, Any]]:
    """The `products` of the admin API's body for a sale of the mix."""
    return [
        {"sku": sku, "name": sku, "priceCents": PRICE_CENTS, "currency": CURRENCY, "stock": count}
        for sku, count in product_stocks(mix, stock).items()
    ]


def demand_for(mix: Sequence[ProductDemand], offered: Sequence[str]) -> tuple[ProductDemand, ...]:
    """The mix the shoppers follow on a sale of the `offered` skus: `mix`, once every
    sku of it is checked to be the sale's; without one, the sale's products evenly,
    or () (no sku sent) for a sale of one product or a server without products."""
    if not mix:
        return tuple(ProductDemand(sku, 1.0) for sku in offered) if len(offered) > 1 else ()
    if not offered:
        raise ProductsError(
            "--products: the server's status lists no products (a server from before "
            "products): drop --products"
        )
    unknown = [product.sku for product in mix if product.sku not in offered]
    if unknown:
        raise ProductsError(
            f"--products: the sale has no product {', '.join(unknown)}; "
            f"its products are {', '.join(offered)}"
        )
    return tuple(mix)


def pick_skus(mix: Sequence[ProductDemand], count: int, seed: int) -> list[str]:
    """`count` skus drawn by weight with a generator of its own: the same seed and
    mix give the same draws, whatever else the run does."""
    if not mix:
        return []
    rng = random.Random(seed)
    skus = [product.sku for product in mix]
    return rng.choices(skus, weights=[product.weight for product in mix], k=count)


def with_skus(plans: Sequence[UserPlan], mix: Sequence[ProductDemand], seed: int) -> list[UserPlan]:
    """The plans, each shopper asking for the sku drawn for it (unchanged without a mix)."""
    if not mix:
        return list(plans)
    skus = pick_skus(mix, len(plans), seed)
    return [replace(plan, sku=sku) for plan, sku in zip(plans, skus, strict=True)]
