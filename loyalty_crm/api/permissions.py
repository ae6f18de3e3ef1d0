from rest_framework.permissions import DjangoModelPermissions


class ModelPermissions(DjangoModelPermissions):
    """Django model permissions, with reads requiring the `view` permission too.

    DRF's class lets any authenticated user read; a CRM holding personal data must not.
    """

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
    }

    def _queryset(self, view):
        # The model is known from `view.queryset`; DRF would call `get_queryset()`, which in
        # nested views looks the member up first and so answered 404 before 403, telling a
        # user without the permission which member numbers exist.
        if getattr(view, "queryset", None) is not None:
            return view.queryset
        return super()._queryset(view)
