"""`campaigns`' answer to `members.classification_hook`: classes and RFM for the members API and admin."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet

from campaigns.models import Classification, MemberScore
from members.classification_hook import NONE, RFM, ClassificationSnapshot
from members.models import Member

LABELS = dict(Classification.choices)


class ScoreClassificationProvider:
    def prepare(self, queryset: QuerySet) -> QuerySet:
        return queryset.select_related("campaign_score")

    def snapshots(self, members) -> dict[int, ClassificationSnapshot]:
        """No query for members loaded through `prepare()`, one for the others; a member never
        classified gets no classification."""
        loaded = Member.campaign_score.is_cached
        result = {member.pk: NONE for member in members}
        # A cached "no row" raises RelatedObjectDoesNotExist, an AttributeError: getattr's default.
        scores = [s for s in (getattr(m, "campaign_score", None) for m in members if loaded(m)) if s is not None]
        missing = [m.pk for m in members if not loaded(m)]
        if missing:
            scores += list(MemberScore.objects.filter(member_id__in=missing))
        for score in scores:
            rfm = None
            if score.r_score is not None:
                rfm = RFM(
                    recency=score.r_score,
                    frequency=score.f_score,
                    monetary=score.m_score,
                    score=score.rfm_score,
                    recency_days=score.recency_days,
                    purchases_12m=score.purchases_12m,
                    spend_12m=score.spend_12m,
                )
            result[score.member_id] = ClassificationSnapshot(
                classification=score.classification, label=str(LABELS[score.classification]), rfm=rfm
            )
        return result

    def filter_by_classification(self, queryset: QuerySet, codes: list[str]) -> QuerySet:
        return queryset.filter(Exists(MemberScore.objects.filter(member_id=OuterRef("pk"), classification__in=codes)))

    def choices(self) -> list[tuple[str, str]]:
        return [(code, str(label)) for code, label in Classification.choices]
