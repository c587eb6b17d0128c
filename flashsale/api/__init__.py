"""The HTTP layer: Falcon resources, middleware, and the mapping of outcomes to answers."""
