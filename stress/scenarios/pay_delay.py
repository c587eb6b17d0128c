"""How long a winning shopper takes to pay (`--pay-delay`): a distribution named on
the command line, drawn from with the run's seeded random generator.

- `lognormal:median=1.5,sigma=0.6`: payment times are skewed (most pay quickly,
  a few take much longer), which is what checkout pages see;
- `uniform:0.5-3`: between two bounds, seconds;
- `fixed:1.2`: always the same (tests).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

# A drawn delay is bounded, so a run stays bounded whatever sigma says.
MAX_DELAY_S = 600.0


class PayDelayError(ValueError):
    """A --pay-delay the toolkit does not understand."""


@dataclass(frozen=True, slots=True)
class PayDelay:
    kind: str  # lognormal, uniform, fixed
    a: float  # lognormal: median; uniform: low; fixed: the delay
    b: float = 0.0  # lognormal: sigma; uniform: high

    def draw(self, rng: random.Random) -> float:
        if self.kind == "lognormal":
            value = rng.lognormvariate(math.log(self.a), self.b)
        elif self.kind == "uniform":
            value = rng.uniform(self.a, self.b)
        else:
            value = self.a
        return min(max(value, 0.0), MAX_DELAY_S)

    def describe(self) -> str:
        if self.kind == "lognormal":
            return f"lognormal:median={self.a:g},sigma={self.b:g}"
        if self.kind == "uniform":
            return f"uniform:{self.a:g}-{self.b:g}"
        return f"fixed:{self.a:g}"


def parse_pay_delay(text: str) -> PayDelay:
    kind, _, spec = text.partition(":")
    try:
        if kind == "lognormal":
            fields = dict(part.split("=", 1) for part in spec.split(","))
            if set(fields) != {"median", "sigma"}:
                raise PayDelayError("lognormal takes median= and sigma=")
            median, sigma = float(fields["median"]), float(fields["sigma"])
            if median <= 0 or sigma < 0:
                raise PayDelayError("lognormal needs median > 0 and sigma >= 0")
            return PayDelay("lognormal", median, sigma)
        if kind == "uniform":
            low, high = (float(part) for part in spec.split("-", 1))
            if not 0 <= low <= high:
                raise PayDelayError("uniform:LOW-HIGH needs 0 <= LOW <= HIGH")
            return PayDelay("uniform", low, high)
        if kind == "fixed":
            value = float(spec)
            if value < 0:
                raise PayDelayError("fixed needs a delay >= 0")
            return PayDelay("fixed", value)
    except (ValueError, TypeError) as exc:
        if isinstance(exc, PayDelayError):
            raise
        raise PayDelayError(f"cannot read {text!r}: {exc}") from None
    raise PayDelayError(
        f"{text!r}: use lognormal:median=M,sigma=S, uniform:LOW-HIGH or fixed:SECONDS"
    )
