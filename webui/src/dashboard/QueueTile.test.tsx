import { render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { QueueFigures, QueueStatus } from '../lib/types';
import { QueueTile } from './QueueTile';

const STATUS_QUEUE: QueueStatus = {
  state: 'admitting',
  opensAt: null,
  length: 2000,
  serving: 300,
  waiting: 1700,
  admitPerMinute: 400,
  admittedSeconds: 120,
  proofOfWork: false,
};
const FIGURES: QueueFigures = { length: 2000, waiting: 1700, serving: 300, admitPerMinute: 400, estimatedWaitSeconds: 255 };

describe('QueueTile', () => {
  it('shows the queue length, waiting, now serving, the rate and the server’s estimated wait', () => {
    render(<QueueTile figures={FIGURES} status={STATUS_QUEUE} />);
    expect(screen.getByTestId('tile-waiting-room-value')).toHaveTextContent(`${(1700).toLocaleString()} waiting`);
    expect(screen.getByTestId('tile-waiting-room-state')).toHaveTextContent('admitting');
    expect(screen.getByTestId('tile-waiting-room-length')).toHaveTextContent(`${(2000).toLocaleString()} in the queue`);
    expect(screen.getByTestId('tile-waiting-room-serving')).toHaveTextContent('now serving 300');
    expect(screen.getByTestId('tile-waiting-room-rate')).toHaveTextContent('400 admitted a minute');
    expect(screen.getByTestId('tile-waiting-room-wait')).toHaveTextContent('wait 4m 15s');
  });

  it('works the wait out from the status alone, as a page does', () => {
    render(<QueueTile figures={undefined} status={STATUS_QUEUE} />);
    // 1,700 waiting at 400 a minute: 4.25 minutes.
    expect(screen.getByTestId('tile-waiting-room-wait')).toHaveTextContent('wait 4m 15s');
  });

  it('says everyone is admitted at the start without a rate, and is absent without a queue', () => {
    const { rerender } = render(
      <QueueTile figures={{ ...FIGURES, admitPerMinute: null, estimatedWaitSeconds: null }} status={null} />,
    );
    expect(screen.getByTestId('tile-waiting-room-rate')).toHaveTextContent('all admitted at the start');
    expect(screen.queryByTestId('tile-waiting-room-wait')).toBeNull();
    rerender(<QueueTile figures={null} status={null} />);
    expect(screen.queryByTestId('tile-waiting-room')).toBeNull();
  });
});
