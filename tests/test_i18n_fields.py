"""One English word, two meanings: a model field label shared by several fields shares one Chinese
translation, which must fit every one of them ("description" once showed as 方向, "created by" as
创建时间). Each label used by more than one field is listed in `i18n_shared_field_labels.json` with
the translation a reviewer confirmed for all its fields; a new shared label, or a changed
translation, fails here until a reviewer confirms it (or gives a field its own `pgettext_lazy`
context)."""

import json
from collections import defaultdict
from pathlib import Path

from django.apps import apps
from django.utils import translation

CONFIRMED = Path(__file__).with_name("i18n_shared_field_labels.json")
PROJECT_APPS = {"members", "rewards", "campaigns", "feedback", "loyalty_crm", "demo"}


def label_key(verbose_name) -> str:
    """`context|msgid` for a pgettext_lazy label, `msgid` for a gettext_lazy one."""
    args = getattr(verbose_name, "_args", None)
    if args and len(args) == 2:
        return f"{args[0]}|{args[1]}"
    return str(args[0] if args else verbose_name)


def shared_labels() -> dict[str, list[str]]:
    fields = defaultdict(list)
    for model in apps.get_models():
        if model._meta.app_label not in PROJECT_APPS:
            continue
        for field in model._meta.get_fields():
            if getattr(field, "column", None) is None or field.name == "id":
                continue
            fields[label_key(field.verbose_name)].append(f"{model._meta.label}.{field.name}")
    return {key: sorted(names) for key, names in fields.items() if len(names) > 1}


def chinese(key: str) -> str:
    with translation.override("zh-hans"):
        if "|" in key:
            context, message = key.split("|", 1)
            return translation.pgettext(context, message)
        return translation.gettext(key)


def test_every_shared_field_label_has_a_confirmed_translation():
    confirmed = json.loads(CONFIRMED.read_text(encoding="utf-8"))
    unconfirmed = {
        key: {"zh_hans": chinese(key), "fields": names}
        for key, names in shared_labels().items()
        if confirmed.get(key) != chinese(key)
    }
    assert unconfirmed == {}, (
        "confirm each translation fits every field (add it to i18n_shared_field_labels.json), "
        "or give a field its own pgettext_lazy context"
    )


def test_the_labels_once_mistranslated_say_what_they_mean():
    assert chinese("description") == "描述"
    assert chinese("created by") == "创建人"
    assert chinese("preference|value") == "偏好值" and chinese("coupon|value") == "面值"
