import { render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { ADMITTING_QUEUE } from '../test/fetchMock';
import { QueueTile } from './QueueTile';

const QUEUE = ADMITTING_QUEUE;

describe('QueueTile', () => {
  it('shows waiting, the queue length, now serving, the rate and the server’s estimated wait', () => {
    render(<QueueTile queue={QUEUE} />);
    expect(screen.getByTestId('tile-waiting-room-value')).toHaveTextContent(`${(1700).toLocaleString()} waiting`);
    expect(screen.getByTestId('tile-waiting-room-state')).toHaveTextContent('admitting');
    expect(screen.getByTestId('tile-waiting-room-length')).toHaveTextContent(`${(2000).toLocaleString()} in the queue`);
    expect(screen.getByTestId('tile-waiting-room-serving')).toHaveTextContent('now serving 300');
    expect(screen.getByTestId('tile-waiting-room-rate')).toHaveTextContent('400 admitted a minute');
    expect(screen.getByTestId('tile-waiting-room-wait')).toHaveTextContent('wait 4m 15s');
  });

  it('says everyone is admitted at the start without a rate, and no wait once nobody waits', () => {
    render(<QueueTile queue={{ ...QUEUE, state: 'closed', admitPerMinute: null, waiting: 0, estimatedWaitSeconds: 0 }} />);
    expect(screen.getByTestId('tile-waiting-room-rate')).toHaveTextContent('all admitted at the start');
    expect(screen.getByTestId('tile-waiting-room-wait')).toHaveTextContent('wait none');
    expect(screen.getByTestId('tile-waiting-room-state')).toHaveTextContent('closed');
  });

  it('is absent without a queue', () => {
    render(<QueueTile queue={null} />);
    expect(screen.queryByTestId('tile-waiting-room')).toBeNull();
  });
});
