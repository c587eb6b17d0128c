"""Products and sales for tests that build them without a server."""

from __future__ import annotations

from flashsale.catalogue import Product
from flashsale.records import SaleRecord, SaleTerms
from flashsale.shm.sale_board import ProductStock, SaleSnapshot

SKU = "item"


def product(sku: str = SKU, stock: int = 3, per_user_limit: int | None = None) -> Product:
    return Product(sku, sku.title(), "", 1000, "EUR", None, stock, per_user_limit)


def sale_record(
    *products: Product, sale_id: int = 1, limit: int = 1, starts=None, ends=None
) -> SaleRecord:
    products = products or (product(),)
    stock = sum(p.stock for p in products)
    return SaleRecord(sale_id, stock, SaleTerms(products, limit, starts, ends), 0)


def snapshot(
    sale_id: int,
    stock: int,
    limit: int = 1,
    starts=None,
    ends=None,
    created: int = 10,
    sold: int = 0,
    *,
    products: tuple[Product, ...] | None = None,
) -> SaleSnapshot:
    """A one-product sale (of `stock`) unless `products` are given, with `sold` on the first."""
    products = products or (product(stock=stock),)
    items = tuple(ProductStock(p, sold if i == 0 else 0) for i, p in enumerate(products))
    return SaleSnapshot(sale_id, stock, limit, starts, ends, created, sold, items)
