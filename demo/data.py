"""The demo's tables, read from `demo/data/` at run time (CSV for flat tables, JSON for the rest).

Edit the files to change the shop; the code only says how the tables are used. The files are
read once a process and their order is kept, so the same seed draws the same rows.
"""

from __future__ import annotations

import csv
import functools
import json
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"


@functools.cache
def table(name: str) -> tuple[dict[str, str], ...]:
    """The rows of `data/<name>.csv` as dicts of strings, in file order."""
    with (DATA_DIR / f"{name}.csv").open(encoding="utf-8", newline="") as file:
        return tuple(csv.DictReader(file))


@functools.cache
def document(name: str):
    """The parsed `data/<name>.json`."""
    with (DATA_DIR / f"{name}.json").open(encoding="utf-8") as file:
        return json.load(file)
