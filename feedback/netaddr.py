"""Moved to `loyalty_crm.netaddr` (members records the client IP too); kept for existing imports."""

from loyalty_crm.netaddr import client_ip

__all__ = ["client_ip"]
