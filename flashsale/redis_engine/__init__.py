"""The Redis engine (FLASHSALE_ENGINE=redis): the sale decided in one Redis that every host
shares. The store and its promises (store.py, library.lua, durability.py), and the
allocator's side of it (allocator.py, decisions.py, jobs.py), which runs the loop of
flashsale.allocator."""
