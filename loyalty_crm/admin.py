"""Staff users: the stock user admin plus the store each user works in."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User

from loyalty_crm.roles import role_label
from members.models import StaffProfile


class StaffProfileInline(admin.StackedInline):
    model = StaffProfile
    can_delete = False
    extra = 1
    max_num = 1


class StaffUserAdmin(UserAdmin):
    inlines = [StaffProfileInline]
    list_display = ["username", "first_name", "last_name", "is_staff", "store", "roles"]
    list_select_related = ["staff_profile__store"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description=User._meta.get_field("groups").verbose_name)
    def roles(self, user):
        return ", ".join(role_label(group.name) for group in user.groups.all())

    @admin.display(description=StaffProfile._meta.get_field("store").verbose_name)
    def store(self, user):
        profile = getattr(user, "staff_profile", None)
        return profile.store if profile else None


admin.site.unregister(User)
admin.site.register(User, StaffUserAdmin)
