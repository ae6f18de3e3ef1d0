"""Strings the catalogue cannot see: xgettext does not read inside an f-string's expressions, so a
`_("all stores")` written there is never extracted and shows in English to every reader."""

import ast
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
SOURCE_DIRS = ["loyalty_crm", "members", "rewards", "campaigns", "feedback", "demo"]
GETTEXT_NAMES = {"_", "gettext", "gettext_lazy", "pgettext", "pgettext_lazy", "ngettext", "ngettext_lazy", "npgettext"}


def translations_inside_fstrings(source: str) -> list[int]:
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.JoinedStr):
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name) and inner.func.id in GETTEXT_NAMES:
                lines.append(inner.lineno)
    return lines


def test_the_check_finds_a_translation_inside_an_fstring():
    assert translations_inside_fstrings("x = f\"{a} · {_('all stores')}\"") == [1]
    assert translations_inside_fstrings('label = _("all stores")\nx = f"{a} · {label}"') == []


def test_no_translated_string_is_written_inside_an_fstring():
    found = []
    for folder in SOURCE_DIRS:
        for path in sorted((ROOT / folder).rglob("*.py")) if (ROOT / folder).exists() else []:
            if "migrations" in path.parts:
                continue
            for line in translations_inside_fstrings(path.read_text(encoding="utf-8")):
                found.append(f"{path.relative_to(ROOT)}:{line}")
    assert found == [], "xgettext cannot extract these: move the gettext call out of the f-string"
