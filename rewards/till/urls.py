"""The till's URLs, mounted at /admin/till/ by the admin site (names `admin:till_*`)."""

from django.urls import path

from rewards.till import views


def urls_for(site) -> list:
    """Each view behind the admin's sign-in (`site.admin_view`); the views check permissions."""
    wrap = site.admin_view
    return [
        path("till/", wrap(views.till_view), name="till"),
        path("till/lookup/", wrap(views.lookup_view), name="till_lookup"),
        path("till/products/", wrap(views.products_view), name="till_products"),
        path("till/scan/", wrap(views.scan_view), name="till_scan"),
        path("till/quote/", wrap(views.quote_view), name="till_quote"),
        path("till/confirm/", wrap(views.confirm_view), name="till_confirm"),
        path("till/top-up/", wrap(views.top_up_view), name="till_top_up"),
        path("till/partner-code/", wrap(views.partner_code_view), name="till_partner_code"),
        path("till/receipt/<int:purchase_id>/", wrap(views.receipt_view), name="till_receipt"),
        path("till/returns/", wrap(views.returns_view), name="till_returns"),
        path("till/returns/<int:purchase_id>/quote/", wrap(views.return_quote_view), name="till_return_quote"),
        path("till/returns/<int:purchase_id>/confirm/", wrap(views.return_confirm_view), name="till_return_confirm"),
        path(
            "till/returns/<int:purchase_id>/without-goods/",
            wrap(views.refund_without_goods_view),
            name="till_refund_without_goods",
        ),
    ]
