"""The campaigns app's SQL that is not a row lock (docs/contributing.md, "Raw SQL").

Names come from the models; values are always parameters. The classification engine's set-based
statements live with it in `campaigns/services/classification.py` (benchmarks/bench_classify.py:
a million members in one pass); everything else written in SQL is here.
"""

from __future__ import annotations

from django.db import connection

from campaigns.models import Partner, PartnerOffer
from loyalty_crm.bulk import select_columns


def active_partner_offers():
    """The active offers of active partners, without their related rows: read after every posting,
    so the common case (no offer applies) costs one small query."""
    quote = connection.ops.quote_name
    offer, partner = quote(PartnerOffer._meta.db_table), quote(Partner._meta.db_table)
    return PartnerOffer.objects.raw(
        f"SELECT {select_columns(PartnerOffer, alias='o')} FROM {offer} o "
        f"JOIN {partner} p ON p.id = o.partner_id WHERE o.is_active AND p.is_active"
    )
