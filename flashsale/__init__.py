"""A flash sale service: exactly the stock is sold, first come first served."""
