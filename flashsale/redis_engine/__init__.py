"""The Redis engine: the sale decided in one Redis that every host shares."""
