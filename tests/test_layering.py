"""The rooms of `campaigns` (docs/contributing.md, "Who may write"): only `campaigns/services/`
writes to the database; selectors read, rules are pure, and admin, API, views, tasks, commands
and receivers call services.

Every module of `campaigns` outside `services/` and `migrations/` is parsed with `ast` and may not
call a writing ORM method (save, delete, create, get_or_create, update_or_create, bulk_create,
bulk_update, a queryset's update, select_for_update) nor run SQL other than a SELECT. The few
exceptions are listed in ALLOWED with the reason for each.

`campaigns/_sql.py` holds the app's SQL (docs/contributing.md, "Raw SQL"): it is checked apart —
its writing functions may be called from `services/` only.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "campaigns"
SKIPPED = ("services", "migrations", "_sql.py")
SQL_MODULE = APP / "_sql.py"

WRITE_METHODS = frozenset(
    {"save", "delete", "create", "get_or_create", "update_or_create", "bulk_create", "bulk_update", "select_for_update"}
)
# Methods whose presence in a call chain makes `.update(...)` a queryset's (not a dict's).
QUERYSET_METHODS = frozenset(
    {"filter", "exclude", "all", "none", "select_related", "prefetch_related", "annotate", "order_by", "only", "defer"}
)
SQL_METHODS = frozenset({"execute", "executemany"})

# (module, enclosing function, method): each one justified.
ALLOWED = {
    # The row locks of campaigns in one place, as in rewards/lock_objects.py: a lock writes nothing,
    # and only services call these, inside their transaction.
    ("campaigns/lock_objects.py", "members_for_update", "select_for_update"),
    ("campaigns/lock_objects.py", "campaign_for_update", "select_for_update"),
    ("campaigns/lock_objects.py", "outbox_message_for_update", "select_for_update"),
    ("campaigns/lock_objects.py", "outbox_messages_for_update", "select_for_update"),
    ("campaigns/lock_objects.py", "claimable_outbox_ids", "select_for_update"),
    ("campaigns/lock_objects.py", "contact_policy_for_update", "select_for_update"),
    ("campaigns/lock_objects.py", "event_for_update", "select_for_update"),
    # Settings singletons (one row, pk fixed by a check constraint): the loader makes the row with
    # its documented defaults when it is missing, so every reader sees the same settings. No
    # domain state; the values are edited in the admin.
    ("campaigns/models/dispatch.py", "ContactPolicy.load", "get_or_create"),
    ("campaigns/models/classification.py", "ClassificationPolicy.current", "get_or_create"),
    ("campaigns/models/referral.py", "ReferralProgramme.load", "get_or_create"),
    # The same singletons pin their primary key before Django's own save (the model's save, not
    # a workflow).
    ("campaigns/models/classification.py", "ClassificationPolicy.save", "save"),
    ("campaigns/models/referral.py", "ReferralProgramme.save", "save"),
    # Cache entries, not rows: the WeChat access-token lock and a callback's nonce.
    ("campaigns/channels/wechat.py", "_cache_forget", "delete"),
    ("campaigns/channels/wechat_hooks.py", "_release_nonce", "delete"),
}


def _chain(node: ast.AST) -> list[ast.AST]:
    """The receivers of a call chain, innermost last: `A.objects.filter(x).update` → [filter call, objects, A]."""
    found = []
    while isinstance(node, ast.Attribute | ast.Call):
        node = node.value if isinstance(node, ast.Attribute) else node.func
        found.append(node)
    return found


def _is_queryset(receiver: ast.AST) -> bool:
    for node in [receiver, *_chain(receiver)]:
        if isinstance(node, ast.Attribute) and node.attr == "objects":
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in QUERYSET_METHODS:
            return True
    return False


def _sql_text(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(part.value for part in node.values if isinstance(part, ast.Constant))
    return None


def _writes(call: ast.Call) -> str | None:
    """The writing method `call` makes, or None."""
    func = call.func
    if not isinstance(func, ast.Attribute):
        return None
    if func.attr in WRITE_METHODS:
        return func.attr
    if func.attr == "update":
        # A queryset's update (`X.objects.filter(...).update(...)`, or keyword arguments only);
        # `some_dict.update(other)` is not a write.
        keywords_only = not call.args and bool(call.keywords)
        if keywords_only or _is_queryset(func.value):
            return "update"
    if func.attr in SQL_METHODS:
        sql = _sql_text(call.args[0]) if call.args else None
        if sql is None or not sql.lstrip().upper().startswith("SELECT"):
            return func.attr  # anything but a literal SELECT may write
    return None


class _Finder(ast.NodeVisitor):
    def __init__(self):
        self.scope: list[str] = []
        self.found: list[tuple[str, str, int]] = []

    def _enter(self, node):
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _enter

    def visit_Call(self, node: ast.Call):
        method = _writes(node)
        if method is not None:
            self.found.append((".".join(self.scope), method, node.lineno))
        self.generic_visit(node)


def writes_in(source: str) -> list[tuple[str, str, int]]:
    """(enclosing function, method, line) of every database write `source` makes."""
    finder = _Finder()
    finder.visit(ast.parse(source))
    return finder.found


def checked_modules() -> list[Path]:
    return sorted(path for path in APP.rglob("*.py") if path.relative_to(APP).parts[0] not in SKIPPED)


def test_only_services_write_in_campaigns():
    offending, used = [], set()
    for path in checked_modules():
        module = path.relative_to(ROOT).as_posix()
        for function, method, line in writes_in(path.read_text(encoding="utf-8")):
            key = (module, function, method)
            if key in ALLOWED:
                used.add(key)
            else:
                offending.append(f"{module}:{line} {function or '<module>'}: .{method}(")
    assert offending == [], "write through a service of campaigns/services/ instead:\n" + "\n".join(offending)
    assert used == ALLOWED, f"allow-list entries that no longer match anything: {sorted(ALLOWED - used)}"


def test_the_modules_checked_include_views_admin_api_and_tasks():
    names = {path.relative_to(APP).as_posix() for path in checked_modules()}
    assert {"views.py", "tasks.py", "admin/campaigns.py", "api/views.py", "selectors/campaigns.py"} <= names
    assert not any(name.startswith(("services/", "migrations/")) for name in names)


@pytest.mark.parametrize(
    "source",
    [
        "def f(c):\n    c.save()",
        "def f():\n    Campaign.objects.filter(pk=1).update(name='x')",
        "def f(qs):\n    qs.update(name='x')",
        "def f():\n    Campaign.objects.create(name='x')",
        "def f():\n    Campaign.objects.get_or_create(pk=1)",
        "def f(c):\n    c.delete()",
        "def f():\n    Segment.objects.bulk_create([])",
        "def f():\n    Campaign.objects.select_for_update().get(pk=1)",
        "def f(cursor):\n    cursor.execute('UPDATE campaigns_campaign SET name = %s', ['x'])",
        "def f(cursor, sql):\n    cursor.execute(sql)",
    ],
)
def test_the_check_sees_each_kind_of_write(source):
    assert [method for _function, method, _line in writes_in(source)] != []


@pytest.mark.parametrize(
    "source",
    [
        "def f(context, more):\n    context.update(more)",
        "def f():\n    Campaign.objects.filter(pk=1).exists()",
        "def f(cursor):\n    cursor.execute('SELECT pg_advisory_xact_lock(%s, %s)', [1, 2])",
    ],
)
def test_reads_are_not_writes(source):
    assert writes_in(source) == []


def test_the_apps_sql_module_writes_only_for_services():
    """A function of campaigns/_sql.py that writes is referred to by services only."""
    writers = {function.split(".")[0] for function, _method, _line in writes_in(SQL_MODULE.read_text(encoding="utf-8"))}
    assert {"aggregate_purchases", "write_predictions", "rank_members"} <= writers  # the check sees them
    offending = []
    for path in checked_modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in writers and getattr(node.value, "id", "") == "_sql":
                offending.append(f"{path.relative_to(ROOT).as_posix()}:{node.lineno} _sql.{node.attr}")
            if isinstance(node, ast.ImportFrom) and node.module == "campaigns._sql":
                offending += [
                    f"{path.relative_to(ROOT).as_posix()}:{node.lineno} {a.name}"
                    for a in node.names
                    if a.name in writers
                ]
    assert offending == [], "only campaigns/services/ may call the writing SQL of campaigns/_sql.py:\n" + "\n".join(
        offending
    )


# --- dependencies point one way (docs/design.md, "Boundaries") ----------------------------------

# What each app may not import: `members` is the bottom; the member centre (`loyalty_crm.centre`)
# composes every app from the top layer.
FORBIDDEN_IMPORTS = {
    "members": ("rewards", "campaigns", "feedback", "loyalty_crm.centre", "demo"),
    "rewards": ("campaigns", "feedback", "loyalty_crm.centre", "demo"),
}
# (module, imported module): each one justified.
ALLOWED_IMPORTS = {
    # The till is a counter screen that composes apps (like the member centre): a partner's code
    # typed at the counter is accepted by campaigns' service. To move with the till to the top layer.
    ("rewards/till/views.py", "campaigns.services.partners"),
}


def imported_modules(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.lineno, node.module


@pytest.mark.parametrize("app", sorted(FORBIDDEN_IMPORTS))
def test_an_app_imports_no_app_above_it(app):
    offending = []
    for path in sorted((ROOT / app).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        for line, module in imported_modules(ast.parse(path.read_text(encoding="utf-8"))):
            where = path.relative_to(ROOT).as_posix()
            if (where, module) in ALLOWED_IMPORTS:
                continue
            if any(module == above or module.startswith(above + ".") for above in FORBIDDEN_IMPORTS[app]):
                offending.append(f"{path.relative_to(ROOT).as_posix()}:{line} imports {module}")
    assert offending == [], f"{app} may not import the apps above it (use a hook, as members/loyalty.py does):\n" + (
        "\n".join(offending)
    )
