"""Generated customers for the CLV tests: the BG/NBD story told forwards, from a fixed seed.

Each customer has a purchase rate λ ~ Gamma(r, 1/α) (purchases a day) and, after each repeat
purchase, drops out for good with probability p ~ Beta(a, b) — the process Fader, Hardie & Lee
(2005) assume and `lifetimes.generate_data.beta_geometric_nbd_model` simulates. A customer is
observed for T days after the first purchase. `dropout=False` gives customers who never drop out
(a Poisson shopper, like `seed_demo`'s), on which a BG/NBD fit degenerates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# A flower shop's regulars: one purchase every 50 days on average (r/α = 0.02 a day), widely
# spread (r < 1); about one in six drops out after any purchase (a / (a + b) ≈ 0.17).
TRUE_PARAMS = {"r": 0.8, "alpha": 40.0, "a": 0.6, "b": 3.0}


@dataclass
class Customer:
    T: float  # days observed since the first purchase
    repeats: list[float]  # days of the repeat purchases after the first, ascending
    alive: bool  # the truth the model estimates: still buying at the end of T


def generate_customers(
    n: int, *, seed: int, dropout: bool = True, min_T: float = 60.0, max_T: float = 1095.0, **params: float
) -> list[Customer]:
    p = {**TRUE_PARAMS, **params}
    rng = np.random.default_rng(seed)
    customers = []
    for _i in range(n):
        T = float(rng.uniform(min_T, max_T))
        rate = rng.gamma(p["r"], 1 / p["alpha"])
        drop = rng.beta(p["a"], p["b"]) if dropout else 0.0
        repeats, now, alive = [], 0.0, True
        while True:
            now += rng.exponential(1 / rate)
            if now >= T:
                break
            repeats.append(now)
            if rng.random() < drop:
                alive = False
                break
        customers.append(Customer(T=T, repeats=repeats, alive=alive))
    return customers


def summarise(customers: list[Customer]) -> dict[str, np.ndarray]:
    """x, t_x, T (continuous time, as `lifetimes` takes them) and the truth."""
    return {
        "x": np.array([len(c.repeats) for c in customers], dtype=float),
        "t_x": np.array([c.repeats[-1] if c.repeats else 0.0 for c in customers]),
        "T": np.array([c.T for c in customers]),
        "alive": np.array([c.alive for c in customers]),
    }


def auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """The chance that a random positive scores above a random negative (ties count half)."""
    pos, neg = scores[positive], scores[~positive]
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))
