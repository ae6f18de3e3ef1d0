"""Coupons voided and redemptions cancelled by code get their reason code back from the sentence
they stored (in English or in Simplified Chinese, the Chinese from the project catalogue); the
text column keeps only what a person typed. Reverse: the sentences come back in English."""

from django.db import migrations
from django.utils import translation

# (code, the sentence code stored before codes)
VOID_REASONS = [
    ("redemption_cancelled", "Redemption cancelled"),
    ("by_staff", "Voided by staff"),
    ("campaign_not_sent", "The campaign message could not be sent."),
]
CANCEL_REASONS = [("back_office", "Cancelled in the back office")]
LANGUAGES = ("en", "zh-hans")


def _forms(msgid: str) -> list[str]:
    forms = []
    for language in LANGUAGES:
        with translation.override(language):
            forms.append(translation.gettext(msgid))
    return forms


def convert(apps, schema_editor=None) -> None:
    Coupon = apps.get_model("rewards", "Coupon")
    Redemption = apps.get_model("rewards", "Redemption")
    for code, msgid in VOID_REASONS:
        Coupon.objects.filter(void_reason_code="", void_reason__in=_forms(msgid)).update(
            void_reason_code=code, void_reason=""
        )
    for code, msgid in CANCEL_REASONS:
        Redemption.objects.filter(cancel_reason_code="", cancel_reason__in=_forms(msgid)).update(
            cancel_reason_code=code, cancel_reason=""
        )


def _back(queryset, code_field: str, text_field: str, code: str, english: str) -> None:
    queryset.filter(**{code_field: code, text_field: ""}).update(**{code_field: "", text_field: english})
    for row in queryset.filter(**{code_field: code}):
        setattr(row, text_field, f"{english}: {getattr(row, text_field)}"[:200])
        setattr(row, code_field, "")
        row.save(update_fields=[code_field, text_field])


def revert(apps, schema_editor=None) -> None:
    Coupon = apps.get_model("rewards", "Coupon")
    Redemption = apps.get_model("rewards", "Redemption")
    for code, english in VOID_REASONS:
        _back(Coupon.objects.all(), "void_reason_code", "void_reason", code, english)
    for code, english in CANCEL_REASONS:
        _back(Redemption.objects.all(), "cancel_reason_code", "cancel_reason", code, english)


class Migration(migrations.Migration):
    dependencies = [("rewards", "0015_coupon_redemption_reason_codes")]

    operations = [migrations.RunPython(convert, revert, elidable=True)]
