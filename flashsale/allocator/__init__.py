"""The allocator: the one process that decides sales, and the workers' client of it."""
