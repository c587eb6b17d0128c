"""Anonymous shared mappings viewed as arrays of int64 words.

The master creates every segment with `mmap(-1, size, MAP_SHARED)` before it
forks the allocator and the workers, so all of them map the same pages. An
anonymous mapping has no name in /dev/shm: nothing can leak when a process is
killed, and the pages go away with the last process that maps them.

Atomicity assumption (documented once, relied on everywhere): an aligned 8-byte
store through a memoryview is a single machine store, so a reader in another
process sees either the old or the new word, never a torn one (true on x86-64
and arm64). Multi-word records use a seqlock or have a single writer.
"""

from __future__ import annotations

import mmap

WORD_BYTES = 8


class Words:
    """A fixed number of int64 words in a fresh anonymous shared mapping."""

    def __init__(self, count: int, *, extra_bytes: int = 0) -> None:
        """`extra_bytes`: room after the words for bytes (see `bytes_after`)."""
        self.count = count
        size = max(count * WORD_BYTES + extra_bytes, mmap.PAGESIZE)
        self._map = mmap.mmap(-1, size, flags=mmap.MAP_SHARED)
        self.view = memoryview(self._map)[: count * WORD_BYTES].cast("q")

    def bytes_after(self) -> memoryview:
        """The mapping's bytes after the words."""
        return memoryview(self._map)[self.count * WORD_BYTES :]

    def __getitem__(self, index: int) -> int:
        return self.view[index]

    def __setitem__(self, index: int, value: int) -> None:
        self.view[index] = value

    def row(self, start: int, length: int) -> memoryview:
        return self.view[start : start + length]
