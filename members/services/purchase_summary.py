"""The purchase summary the segment keys on purchases read (`members.models.PurchaseSummary`).

PostgreSQL keeps it exact by itself (the triggers of migration 0023); `rebuild_purchase_summary`
rewrites it from the purchases, for a database restored without its triggers. On other
databases the segments read the lines and the table stays empty.
"""

from __future__ import annotations

from django.db import transaction

from members import _sql


@transaction.atomic
def rebuild_purchase_summary() -> int:
    """Replace the summary's rows with those the counted lines give (readers see the old rows until
    the transaction commits); returns the rows written."""
    return _sql.rebuild_purchase_summary()
