"""Figures of the service on this machine: the throughput ceiling against a trivial
app, the worker-count sweep, what event streams cost, the Redis engine, and the
allocator, the journal and the rate limiter measured without HTTP."""
