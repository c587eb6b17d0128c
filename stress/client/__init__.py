"""The load client: what runs inside the load processes, and the parent side that
starts them, releases them together and gathers what they recorded.

Children are spawned with the `multiprocess` package and start with nothing of the
parent but their arguments. Their entry points: `process.client_main` (a flash run's
shoppers and open pages on one event loop), `loops.loop_process` (the Python load
generator's closed loops) and `burst`'s shopper processes. Everything here is safe
to import in a child: no global state, no threads started at import.
"""
