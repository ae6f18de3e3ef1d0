"""Every management command of the project answers `--help` (a lazy help text once broke that)."""

import pytest
from django.core.management import get_commands, load_command_class

PROJECT_APPS = {"loyalty_crm", "members", "rewards", "campaigns", "feedback", "demo"}
COMMANDS = sorted((name, app) for name, app in get_commands().items() if app in PROJECT_APPS)


def test_the_project_has_its_commands():
    names = {name for name, _app in COMMANDS}
    assert {"import_members", "seed_demo", "export_member", "erase_member", "rotate_encryption_key"} <= names


@pytest.mark.parametrize(("name", "app"), COMMANDS)
def test_command_help_renders(name, app):
    command = load_command_class(app, name)
    text = command.create_parser("manage.py", name).format_help()
    assert f"manage.py {name}" in text
    assert command.help and isinstance(command.help, str)
