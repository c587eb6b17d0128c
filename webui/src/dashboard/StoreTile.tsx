import { formatNumber } from '../lib/format';
import type { EngineInfo, JournalInfo } from '../lib/types';
import { Tile } from './Tile';

type RedisEngine = Extract<EngineInfo, { name: 'redis' }>;

/**
 * Where sales are recorded: the host's SQLite journal, or the one Redis every host decides
 * on. `engine` null (an older server, or no detail yet): the journal.
 */
export function StoreTile({ journal, engine }: { journal: JournalInfo | null; engine: EngineInfo | null }) {
  return engine?.name === 'redis' ? (
    <RedisTile journal={journal} redis={engine} />
  ) : (
    <JournalTile journal={journal} />
  );
}

function JournalTile({ journal }: { journal: JournalInfo | null }) {
  return (
    <Tile
      title="Journal"
      testId="tile-journal"
      tone={journal ? (journal.writable ? 'good' : 'bad') : 'unknown'}
      value={journal ? (journal.writable ? 'Writable' : 'Cannot be written') : '–'}
    >
      {journal
        ? journal.writable
          ? `${formatNumber(journal.writeErrors)} write errors`
          : `${journal.lastError ?? 'write failed'} · nothing is sold`
        : 'waiting…'}
    </Tile>
  );
}

/** With the redis engine the journal block says whether Redis can be reached. */
function RedisTile({ journal, redis }: { journal: JournalInfo | null; redis: RedisEngine }) {
  const reachable = journal?.writable ?? null;
  return (
    <Tile
      title="Redis"
      testId="tile-redis"
      tone={reachable === null ? 'unknown' : !reachable ? 'bad' : redis.weaker ? 'warn' : 'good'}
      value={reachable === null ? '–' : reachable ? 'Reachable' : 'Cannot be reached'}
    >
      {reachable === false ? (
        <span className="tile__line" data-testid="tile-redis-error">
          {journal?.lastError ?? 'Redis cannot be reached'} · nothing is sold
        </span>
      ) : null}
      <span className="tile__line tile__url" data-testid="tile-redis-url">
        {redis.url}
      </span>
      {redis.weaker ? (
        <span className="tile__line tile__warning" data-testid="tile-redis-durability">
          Weaker durability: {redis.weaker}
        </span>
      ) : (
        <span className="tile__line" data-testid="tile-redis-durability">
          fsync always
        </span>
      )}
    </Tile>
  );
}
