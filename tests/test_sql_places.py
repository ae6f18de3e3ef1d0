"""SQL is written in known places only (docs/contributing.md, "Raw SQL"): each app's `_sql.py`,
its `lock_objects.py`, and `loyalty_crm/bulk.py`. Anywhere else the ORM is used, or a function of
those modules is called. Migrations are exempt (they may carry SQL of their moment).

A string is taken for SQL when it starts like a statement (SELECT, INSERT INTO, UPDATE … SET,
DELETE FROM, CREATE/DROP TABLE, ANALYZE, COPY, WITH x, SET LOCAL, LOCK TABLE, TRUNCATE) or holds a
row lock clause or a `FROM {table}` / `JOIN {table}` built from a name; docstrings are prose.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("members", "rewards", "campaigns", "feedback", "loyalty_crm", "demo")
SQL_PLACES = ("_sql.py", "lock_objects.py")
PROJECT_SQL = {"loyalty_crm/bulk.py"}
SQL = re.compile(
    r"^\s*(SELECT|INSERT INTO|UPDATE\s+(\S+\s+)?(AS \w+\s+)?SET\b|DELETE FROM|CREATE (TEMPORARY |TEMP )?TABLE|"
    r"DROP TABLE|ANALYZE|COPY|WITH \w+|SET LOCAL|LOCK TABLE|TRUNCATE)\b|\bFOR (NO KEY )?UPDATE\b|\bFROM \{|\bJOIN \{"
)


def sql_lines(source: str) -> list[int]:
    tree = ast.parse(source)
    docstrings = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and body:
            first = body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    found = set()
    for node in ast.walk(tree):
        if id(node) in docstrings:
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value):
            found.add(node.lineno)
        elif isinstance(node, ast.JoinedStr):
            text = "".join(part.value for part in node.values if isinstance(part, ast.Constant))
            if SQL.search(text):
                found.add(node.lineno)
    return sorted(found)


def checked_modules() -> list[Path]:
    modules = []
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if "/migrations/" in relative or path.name in SQL_PLACES or relative in PROJECT_SQL:
                continue
            modules.append(path)
    return modules


def test_sql_is_written_only_in_the_known_places():
    offending = [
        f"{path.relative_to(ROOT).as_posix()}:{line}"
        for path in checked_modules()
        for line in sql_lines(path.read_text(encoding="utf-8"))
    ]
    assert offending == [], "move this SQL into the app's _sql.py (or lock_objects.py):\n" + "\n".join(offending)


def test_the_known_places_hold_sql_indeed():
    for place in (
        "members/_sql.py",
        "rewards/_sql.py",
        "campaigns/_sql.py",
        "loyalty_crm/_sql.py",
        "loyalty_crm/bulk.py",
    ):
        assert sql_lines((ROOT / place).read_text(encoding="utf-8")), place


@pytest.mark.parametrize(
    "source",
    [
        'def f(c):\n    c.execute("SELECT 1")',
        'def f(c, t):\n    c.execute(f"UPDATE {t} SET a = 1")',
        'def f(c, t):\n    c.execute(f"SELECT id FROM {t} WHERE id = %s FOR UPDATE", [1])',
        'X = "INSERT INTO x (a) VALUES (%s)"',
        'def f(c):\n    c.execute("CREATE TEMP TABLE x (a int)")',
    ],
)
def test_the_check_sees_sql(source):
    assert sql_lines(source) != []


@pytest.mark.parametrize(
    "source",
    [
        'def f():\n    """SELECT the members: FROM {table} in prose."""',
        'MESSAGE = "Select a member to update."',
        'LABEL = "Update the settings"',
    ],
)
def test_prose_is_not_sql(source):
    assert sql_lines(source) == []
