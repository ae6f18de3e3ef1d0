"""The staff roles (auth groups) and the helper migrations use to give them permissions.

Each app's data migration grants its own models' permissions to the roles, so a role's exact
permissions are the union of those migrations; `tests/test_roles.py` pins them.
"""

from django.contrib.auth.management import create_permissions
from django.utils.translation import gettext_lazy as _

STORE_STAFF = "Store staff"
MARKETING = "Marketing"
SUPPORT = "Support"
MANAGER = "Manager"
ROLES = (STORE_STAFF, MARKETING, SUPPORT, MANAGER)
# Group names are data (stable, English); staff see them translated.
ROLE_LABELS = {
    STORE_STAFF: _("Store staff"),
    MARKETING: _("Marketing"),
    SUPPORT: _("Support"),
    MANAGER: _("Manager"),
}


def role_label(name: str) -> str:
    return str(ROLE_LABELS.get(name, name))


def grant(apps, app_label: str, grants: dict[str, list[str]]) -> None:
    """In a data migration: give each role the listed codenames of `app_label` (creating both)."""
    app_config = apps.get_app_config(app_label)
    # Permissions are normally created after all migrations; a role needs them now.
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in grants.items():
        group, _created = Group.objects.get_or_create(name=role)
        perms = list(Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames))
        missing = set(codenames) - {p.codename for p in perms}
        if missing:
            raise RuntimeError(f"Unknown permissions for {app_label}: {sorted(missing)}")
        group.permissions.add(*perms)


def revoke(apps, app_label: str, grants: dict[str, list[str]]) -> None:
    Group = apps.get_model("auth", "Group")
    for role, codenames in grants.items():
        group = Group.objects.filter(name=role).first()
        if group:
            group.permissions.remove(
                *group.permissions.filter(content_type__app_label=app_label, codename__in=codenames)
            )
