import { formatNumber } from '../lib/format';
import type { SaleProduct } from '../lib/types';

/** Stock per product of a sale of several; one product is the Stock tile alone. */
export function ProductStock({ products }: { products: readonly SaleProduct[] }) {
  if (products.length < 2) return null;
  return (
    <section className="card" aria-labelledby="product-stock-heading">
      <h2 id="product-stock-heading">Stock by product</h2>
      <table className="table" data-testid="product-stock-table">
        <thead>
          <tr>
            <th scope="col">Product</th>
            <th scope="col" className="num">
              Sold / total
            </th>
            <th scope="col" className="num">
              Remaining
            </th>
            <th scope="col" className="product-stock__bar-col">
              <span className="visually-hidden">Share left</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {products.map((product) => {
            const ratio = product.total > 0 ? product.remaining / product.total : 0;
            return (
              <tr key={product.sku} data-testid={`product-stock-${product.sku}`}>
                <th scope="row">
                  {product.name} <span className="hint mono">{product.sku}</span>
                </th>
                <td className="num product-stock__remaining">
                  {formatNumber(product.sold)} / {formatNumber(product.total)}
                </td>
                <td
                  className="num product-stock__remaining"
                  data-testid={`product-stock-${product.sku}-remaining`}
                >
                  {formatNumber(product.remaining)}
                  {product.remaining === 0 ? <span className="hint"> · sold out</span> : null}
                </td>
                <td className="product-stock__bar-col">
                  <div
                    className="bar bar--thin"
                    role="progressbar"
                    aria-label={`${product.name} left`}
                    aria-valuemin={0}
                    aria-valuemax={product.total}
                    aria-valuenow={product.remaining}
                  >
                    <div
                      className={`bar__fill bar__fill--${ratio > 0.5 ? 'plenty' : ratio > 0.1 ? 'low' : 'last'}`}
                      style={{ width: `${ratio * 100}%` }}
                    />
                  </div>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}
