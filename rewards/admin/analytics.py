"""The programme analytics' assumptions (one row): managers edit the cost of a point, the margin
and the cost of a message the analytics price things with."""

from django.contrib import admin
from django.shortcuts import redirect

from rewards.models import ProgrammeAssumptions


@admin.register(ProgrammeAssumptions)
class ProgrammeAssumptionsAdmin(admin.ModelAdmin):
    list_display = ["__str__", "cost_per_point", "margin_percent", "cost_per_message", "updated_at"]
    fields = ["cost_per_point", "margin_percent", "cost_per_message"]

    # No query in has_add_permission: the admin asks it for every page's navigation. The one row is
    # added once; afterwards the add page leads to it.
    def add_view(self, request, form_url="", extra_context=None):
        if ProgrammeAssumptions.objects.exists():
            return redirect("admin:rewards_programmeassumptions_change", ProgrammeAssumptions.SINGLETON_PK)
        return super().add_view(request, form_url, extra_context)

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        # One row: its form is the page (the add form, with the defaults, until someone saves it).
        if ProgrammeAssumptions.objects.exists():
            return redirect("admin:rewards_programmeassumptions_change", ProgrammeAssumptions.SINGLETON_PK)
        if self.has_add_permission(request):
            return redirect("admin:rewards_programmeassumptions_add")
        return super().changelist_view(request, extra_context)
