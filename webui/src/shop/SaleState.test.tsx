import { render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { SaleStatus } from '../lib/types';
import { OPEN_AUTH, OPEN_STATUS } from '../test/fetchMock';
import { SaleState } from './SaleState';

function show(status: SaleStatus) {
  render(<SaleState status={status} clockOffsetMs={0} onStartReached={() => {}} />);
}

describe('SaleState', () => {
  it('says purchases are paused while the breaker is open', () => {
    show({ ...OPEN_STATUS, auth: OPEN_AUTH, breaker: 'open' });
    expect(screen.getByTestId('sale-state')).toHaveTextContent('Sale is live');
    expect(screen.getByTestId('sale-paused')).toHaveTextContent('paused for a moment');
  });

  it('says nothing of a pause while the breaker is closed', () => {
    show({ ...OPEN_STATUS, auth: OPEN_AUTH });
    expect(screen.queryByTestId('sale-paused')).toBeNull();
  });
});

describe('SaleState paused by the organiser', () => {
  it('says so in its own words, not the breaker’s moment', () => {
    show({ ...OPEN_STATUS, auth: OPEN_AUTH, state: 'paused' });
    expect(screen.getByTestId('sale-state')).toHaveAttribute('data-state', 'paused');
    expect(screen.getByTestId('sale-paused-by-organiser')).toHaveTextContent(
      'The sale is paused by the organiser',
    );
    expect(screen.queryByTestId('sale-paused')).toBeNull();
  });
});
