"""The member centre (`/m/`, issue 15): the customer's own pages and the `/api/v1/me/` API."""
