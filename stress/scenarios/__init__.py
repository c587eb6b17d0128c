"""A flash run (`python -m stress flash`): what each simulated shopper does (its plan,
the product it asks for, its token in jwt mode), the hosts it buys on, and the run
from the sale's set-up to the look-ups, the verdict and the report."""
