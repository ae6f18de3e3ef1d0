"""The base of every domain error; the API maps them to 409 `{code, detail}` in one place."""


class DomainError(Exception):
    """A business rule refused the request. Subclasses set `code` (snake_case, part of the API)."""

    code = "domain_error"
    status_code = 409

    def __init__(self, detail: str, *, code: str | None = None):
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code
