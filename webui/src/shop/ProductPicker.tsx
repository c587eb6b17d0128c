import { useId } from 'react';
import { formatNumber, formatPrice } from '../lib/format';
import type { SaleProduct } from '../lib/types';
import { isAvailable } from './catalogue';
import type { ProductChoice } from './useProductChoice';

/**
 * Several products: one radio per product with its name, price and live stock. Sold-out
 * ones cannot be chosen; a chosen one that sells out stays marked and the shopper is
 * asked to choose another.
 */
export function ProductPicker({ choice }: { choice: ProductChoice }) {
  const name = useId();
  const othersLeft = choice.products.some(
    (product) => product.sku !== choice.chosen?.sku && isAvailable(product),
  );
  return (
    <fieldset className="picker" data-testid="product-picker">
      <legend className="picker__legend">Choose one</legend>
      <div className="picker__options">
        {choice.products.map((product) => (
          <Option
            key={product.sku}
            product={product}
            group={name}
            checked={product.sku === choice.chosen?.sku}
            onChoose={choice.choose}
          />
        ))}
      </div>
      {choice.chosen && choice.chosenSoldOut ? (
        <p className="picker__problem" role="alert" data-testid="chosen-sold-out">
          {choice.chosen.name} has just sold out.
          {othersLeft ? ' Please choose another.' : ''}
        </p>
      ) : null}
    </fieldset>
  );
}

function Option({
  product,
  group,
  checked,
  onChoose,
}: {
  product: SaleProduct;
  group: string;
  checked: boolean;
  onChoose: (sku: string) => void;
}) {
  const available = isAvailable(product);
  return (
    <label
      className={`option${checked ? ' option--chosen' : ''}${available ? '' : ' option--sold-out'}`}
      data-testid={`option-${product.sku}`}
      data-sku={product.sku}
    >
      <input
        type="radio"
        className="option__input"
        name={group}
        value={product.sku}
        checked={checked}
        disabled={!available}
        onChange={() => onChoose(product.sku)}
      />
      <span className="option__name">{product.name}</span>
      <span className="option__price">{formatPrice(product.priceCents, product.currency)}</span>
      <span className="option__stock" data-testid={`option-${product.sku}-stock`}>
        {available ? `${formatNumber(product.remaining)} left` : 'Sold out'}
      </span>
    </label>
  );
}
