import { useState } from 'react';

/**
 * The product's picture from its `imageUrl`, or a neutral placeholder when it has
 * none or the picture cannot be loaded. Keyed by the caller on the URL, so another
 * product's picture gets its own chance to load.
 */
export function ProductPicture({ imageUrl, name }: { imageUrl: string | null; name: string }) {
  const [failed, setFailed] = useState(false);
  if (imageUrl && !failed) {
    return (
      <div className="product__picture">
        <img
          className="product__image"
          src={imageUrl}
          alt={name}
          onError={() => setFailed(true)}
          data-testid="product-image"
        />
      </div>
    );
  }
  return (
    <div
      className="product__picture product__picture--none"
      data-testid="product-image-placeholder"
      aria-hidden="true"
    >
      <svg viewBox="0 0 64 64" role="presentation">
        <rect x="10" y="14" width="44" height="36" rx="6" fill="none" stroke="currentColor" strokeWidth="3" />
        <circle cx="24" cy="27" r="4" fill="currentColor" />
        <path d="M14 46 L28 34 L36 41 L43 35 L52 44" fill="none" stroke="currentColor" strokeWidth="3" strokeLinejoin="round" />
      </svg>
    </div>
  );
}
