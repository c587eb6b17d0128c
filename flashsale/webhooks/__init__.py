"""Webhooks: the outbox decisions append to, and the sender process that delivers it."""
