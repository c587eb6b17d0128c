"""Shared memory published by one writer per field and read by every process."""
