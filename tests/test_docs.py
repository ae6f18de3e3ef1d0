"""The README and the book in docs/ stay honest: short, and naming only commands and files that exist.

`mkdocs build --strict` (`make docs`, run by CI) checks the book's own links and anchors; these
tests check what it does not: the README's length and links, and the make targets the text names.
"""

import re
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
README = ROOT / "README.md"
DOCS = ROOT / "docs"
TEXTS = [README, *sorted(DOCS.rglob("*.md"))]
MAKE_TARGET = re.compile(r"`make ([a-z][a-z0-9-]*)")
RULE = re.compile(r"^([a-z][a-z0-9-]*):", re.MULTILINE)


def makefile_targets() -> set[str]:
    return set(RULE.findall((ROOT / "Makefile").read_text(encoding="utf-8")))


def test_readme_is_under_200_lines():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) < 200, f"README.md has {len(lines)} lines; move the detail into docs/"


def test_readme_keeps_the_two_commands():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert any(line.startswith("make run ") for line in lines)
    assert any(line.startswith("make test ") for line in lines)


@pytest.mark.parametrize("path", TEXTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_make_target_the_text_names_exists(path):
    named = set(MAKE_TARGET.findall(path.read_text(encoding="utf-8")))
    assert named - makefile_targets() == set()


def test_readme_links_point_at_files_that_exist():
    text = README.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(((?!https?://)[^)#\s]+)(?:#[^)]*)?\)", text)
    assert targets, "the README links into docs/"
    missing = [target for target in targets if not (ROOT / target).exists()]
    assert missing == []


def test_every_page_of_the_book_is_in_its_navigation():
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    pages = {str(path.relative_to(DOCS)) for path in DOCS.rglob("*.md")}
    assert {page for page in pages if f": {page}" not in nav} == set()
