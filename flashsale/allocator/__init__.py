"""The allocator: the one process that decides sales, and the workers' client of it.

The loop every engine runs, with the SQLite engine's pipeline (group commits to the
journal); the Redis engine's side of the loop is in flashsale.redis_engine."""
