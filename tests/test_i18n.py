"""Every screen in Simplified Chinese and English: the zh-hans catalogue is complete and compiled.

The test re-extracts the messages from the source (as `make messages` does) into a copy of the
project, so a string added without its translation fails here, not in front of staff.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.test import Client

ROOT = Path(settings.BASE_DIR)
PO = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
SOURCE_DIRS = ["loyalty_crm", "members", "rewards", "campaigns", "feedback", "demo", "templates"]


def untranslated(catalogue: polib.POFile) -> list[str]:
    missing = [e.msgid for e in catalogue.untranslated_entries()]
    missing += [e.msgid for e in catalogue.fuzzy_entries()]
    return missing


def test_committed_catalogue_has_no_untranslated_or_fuzzy_entry():
    catalogue = polib.pofile(str(PO))
    assert len(catalogue) > 50
    assert untranslated(catalogue) == []


def test_every_message_in_the_source_is_in_the_catalogue(tmp_path):
    if not shutil.which("xgettext"):
        pytest.fail("xgettext (Debian package gettext) is needed to extract messages")
    copy = tmp_path / "project"
    copy.mkdir()
    shutil.copy(ROOT / "manage.py", copy)
    for name in [*SOURCE_DIRS, "locale"]:
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "zh_Hans", "--no-obsolete"],
        cwd=copy,
        check=True,
        capture_output=True,
    )
    fresh = polib.pofile(str(copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"))
    assert untranslated(fresh) == [], "run `make messages` and translate these"


def test_compiled_catalogue_matches_the_po_file():
    compiled = polib.mofile(str(PO.with_suffix(".mo")))
    translations = {(entry.msgctxt, entry.msgid): entry.msgstr for entry in compiled}
    for entry in polib.pofile(str(PO)).translated_entries():
        if not entry.msgid_plural:
            assert translations.get((entry.msgctxt, entry.msgid)) == entry.msgstr, f"recompile: {entry.msgid!r}"


@pytest.mark.django_db
def test_chinese_browser_gets_the_admin_in_simplified_chinese():
    response = Client(headers={"accept-language": "zh-CN,zh;q=0.9,en;q=0.5"}).get("/admin/login/")
    assert response.headers["Content-Language"] == "zh-hans"
    assert "忠诚度" in response.content.decode()


@pytest.mark.django_db
def test_other_browsers_get_english():
    response = Client(headers={"accept-language": "de-DE,de;q=0.9"}).get("/admin/login/")
    assert response.headers["Content-Language"] == "en"
    assert "Loyalty CRM" in response.content.decode()
