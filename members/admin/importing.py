"""The admin's member import: upload a CSV, see a dry-run preview with every bad row, confirm.

Mounted at /admin/members/member/import/ through `admin_site.admin_view(import_members_view)`.
Both the preview and the import run `members.importing.import_members`, the service behind
`manage.py import_members`. Between the steps the upload waits in MEDIA_ROOT/imports under a
random name; the page refers to it only by a signed, expiring token bound to the user.
"""

from __future__ import annotations

import codecs
import io
import re
import secrets
import time
from pathlib import Path
from urllib.parse import quote

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from members.importing import (
    ALL_COLUMNS,
    REQUIRED_COLUMNS,
    ImportFailed,
    ImportResult,
    import_members,
    write_error_report,
)
from members.models import Member

PERMISSION = "members.import_members"
SIGNING_SALT = "members.admin_import"  # the module's former name; kept so issued tokens stay valid
TOKEN_MAX_AGE = 60 * 60  # seconds an uploaded file waits for its confirmation
PREVIEW_ROWS = 20
ERRORS_SHOWN = 500
STORED_NAME = re.compile(r"^[0-9a-f]{32}\.csv$")
TEMPLATE = "admin/members/member/import.html"


class UploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("CSV file"),
        help_text=gettext_lazy("UTF-8 text (in Excel: Save as “CSV UTF-8”)."),
    )
    skip_errors = forms.BooleanField(
        label=gettext_lazy("Skip bad rows"),
        required=False,
        help_text=gettext_lazy(
            "Import the good rows and list the bad ones. Unticked, one bad row stops the whole import."
        ),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        limit = settings.MEMBER_IMPORT_MAX_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                _(
                    "The file is %(size)s; the largest file accepted is %(max)s. "
                    "Split it, or use manage.py import_members."
                )
                % {"size": filesizeformat(upload.size), "max": filesizeformat(limit)}
            )
        if not upload.name.lower().endswith((".csv", ".txt")):
            raise forms.ValidationError(_("Upload a CSV file (its name ends in .csv)."))
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            for chunk in upload.chunks():
                if b"\x00" in chunk:
                    raise ValueError("binary")
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except (UnicodeDecodeError, ValueError):
            raise forms.ValidationError(
                _("This is not a CSV text file in UTF-8. In Excel, save it as “CSV UTF-8” and upload it again.")
            ) from None
        return upload


class ConfirmForm(forms.Form):
    token = forms.CharField(widget=forms.HiddenInput)
    skip_errors = forms.BooleanField(
        label=gettext_lazy("Skip bad rows"),
        required=False,
        help_text=gettext_lazy("Import the good rows and leave out the bad ones listed above."),
    )


def _imports_dir() -> Path:
    directory = Path(settings.MEDIA_ROOT) / "imports"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _store_upload(upload) -> str:
    """Save the upload under a random name; uploads never confirmed are removed after a while."""
    directory = _imports_dir()
    for old in directory.glob("*.csv"):
        if old.stat().st_mtime < time.time() - 2 * TOKEN_MAX_AGE:
            old.unlink(missing_ok=True)
    name = secrets.token_hex(16) + ".csv"
    with open(directory / name, "wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    return name


def _make_token(request: HttpRequest, stored: str, filename: str) -> str:
    return signing.dumps({"file": stored, "user": request.user.pk, "name": filename}, salt=SIGNING_SALT)


def _read_token(request: HttpRequest, token: str) -> tuple[Path, str]:
    """The stored upload a token refers to; ValueError with a message for staff when it cannot be used."""
    try:
        data = signing.loads(token, salt=SIGNING_SALT, max_age=TOKEN_MAX_AGE)
    except signing.SignatureExpired:
        raise ValueError(_("This upload has expired; upload the file again.")) from None
    except signing.BadSignature:
        raise ValueError(_("This import link is not valid; upload the file again.")) from None
    if not isinstance(data, dict) or data.get("user") != request.user.pk or not STORED_NAME.match(data.get("file", "")):
        raise ValueError(_("This import link is not valid; upload the file again."))
    path = _imports_dir() / data["file"]
    if not path.is_file():
        raise ValueError(_("This upload was already imported or has expired; upload the file again."))
    return path, data.get("name", "")


def _run(request: HttpRequest, path: Path, *, skip_errors: bool, dry_run: bool) -> ImportResult:
    with open(path, encoding="utf-8-sig", newline="") as stream:
        return import_members(
            stream=stream, actor=request.user, skip_errors=skip_errors, dry_run=dry_run, preview_rows=PREVIEW_ROWS
        )


def _render(request: HttpRequest, **context) -> TemplateResponse:
    errors = context.get("errors") or []
    context.update(
        admin.site.each_context(request),
        title=_("Import members from CSV"),
        opts=Member._meta,
        required_columns=REQUIRED_COLUMNS,
        optional_columns=[name for name in ALL_COLUMNS if name not in REQUIRED_COLUMNS],
        errors=errors[:ERRORS_SHOWN],
        errors_hidden=max(0, len(errors) - ERRORS_SHOWN),
        max_size=settings.MEMBER_IMPORT_MAX_BYTES,
    )
    return TemplateResponse(request, TEMPLATE, context)


def import_members_view(request: HttpRequest) -> HttpResponse:
    """Step 1: upload form. Step 2 (POST the file): dry-run preview. Step 3 (POST confirm): import."""
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    if request.method == "POST" and "token" in request.POST:
        return _confirm(request)
    if request.method == "POST":
        return _preview(request)
    return _render(request, form=UploadForm())


def _preview(request: HttpRequest) -> TemplateResponse:
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _render(request, form=form)
    upload = form.cleaned_data["file"]
    stored = _store_upload(upload)
    path = _imports_dir() / stored
    skip_errors = form.cleaned_data["skip_errors"]
    try:
        result = _run(request, path, skip_errors=skip_errors, dry_run=True)
    except ImportFailed as exc:  # the header or the encoding: nothing to preview
        path.unlink(missing_ok=True)
        return _render(request, form=UploadForm(initial={"skip_errors": skip_errors}), errors=exc.errors)
    token = _make_token(request, stored, upload.name)
    return _render(
        request,
        result=result,
        errors=result.errors,
        filename=upload.name,
        confirm_form=ConfirmForm(initial={"token": token, "skip_errors": skip_errors}),
    )


def _confirm(request: HttpRequest) -> HttpResponse:
    form = ConfirmForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("This import link is not valid; upload the file again."))
        return _render(request, form=UploadForm())
    try:
        path, filename = _read_token(request, form.cleaned_data["token"])
    except ValueError as exc:
        messages.error(request, str(exc))
        return _render(request, form=UploadForm())
    skip_errors = form.cleaned_data["skip_errors"]
    if "_report" in request.POST:
        return _error_report(request, path, filename)
    try:
        result = _run(request, path, skip_errors=skip_errors, dry_run=False)
    except ImportFailed as exc:
        messages.error(request, _("Nothing was imported: the file has errors."))
        return _render(request, errors=exc.errors, filename=filename, confirm_form=form, failed=True)
    path.unlink(missing_ok=True)
    messages.success(
        request,
        _("Imported %(filename)s: %(created)d members created, %(updated)d updated, %(unchanged)d unchanged.")
        % {
            "filename": filename,
            "created": result.created,
            "updated": result.updated,
            "unchanged": result.unchanged,
        },
    )
    if result.skipped:
        messages.warning(
            request,
            ngettext(
                "%(count)d bad row was skipped and not imported.",
                "%(count)d bad rows were skipped and not imported.",
                result.skipped,
            )
            % {"count": result.skipped},
        )
    return redirect("admin:members_member_changelist")


def _error_report(request: HttpRequest, path: Path, filename: str) -> HttpResponse:
    """Every bad row of the stored upload as CSV (the page shows only the first few hundred)."""
    try:
        errors = _run(request, path, skip_errors=True, dry_run=True).errors
    except ImportFailed as exc:
        errors = exc.errors
    out = io.StringIO()
    write_error_report(out, errors)
    response = HttpResponse(("\ufeff" + out.getvalue()).encode("utf-8"), content_type="text/csv; charset=utf-8")
    report_name = (Path(filename).stem or "import") + ".errors.csv"
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(report_name, safe='')}"
    return response
