"""What several apps' admins share."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import reverse


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by the owning app's services (ledgers, logs, records of who did what):
    viewable in the admin, never added, changed or deleted there."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class SingletonAdmin(admin.ModelAdmin):
    """A settings table of one row (policies, programme settings): never added or deleted in the
    admin, and its list is a detour straight to the row's page. `load_row()` returns the row — the
    model's own loader, which may create it with its documented defaults — or None (then the plain
    list is shown)."""

    def load_row(self):
        raise NotImplementedError

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        row = self.load_row()
        if row is None:
            return super().changelist_view(request, extra_context)
        opts = self.model._meta
        return redirect(reverse(f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_change", args=[row.pk]))
