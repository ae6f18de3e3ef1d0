"""The till (收银台): the counter's checkout, receipt and returns pages in the back office.

Mounted under /admin/till/ by the admin site (loyalty_crm.admin_site). Every figure on these pages
comes from the checkout and refund services; the pages and their small script only show them.
"""
