"""Joining and signing in to the member centre (issue 15): `/m/login/`, `/m/join/`, `/m/terms/`,
`/m/logout/` and WeChat sign-in (`/m/wechat/`).

Every step is a plain form post (CSRF-protected), so the pages work without JavaScript; a few
lines of script only count down the "send again" button. The services decide:
`members.services.request_code` / `verify_code` (the one-time codes and their limits),
`create_member` (joining), `accept_terms`, `bind_wechat_openid` and, for a walk-in receipt's join
link, `rewards.services.walkin.credit_walk_in_purchase`.

A phone number never appears in a URL: between steps it travels in the form's body; once a code has
proved it, in a signed hidden field (`verified`, 15 minutes) so a join form with a mistake is not
asked for a second code. Whether a phone belongs to a member is told only to whoever proved they
hold it, except the join page's "this phone is already a member, we sent a code to sign in".
"""

from __future__ import annotations

import datetime
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods

from loyalty_crm.netaddr import client_ip
from members import services
from members.centre import wechat_oauth
from members.centre.session import current_member, member_required, sign_in, sign_out
from members.models import ConsentSource, ConsentTopic, Member, MemberSession, OtpChallenge, Store, TermsVersion

VERIFIED_SALT = "members.centre.verified-phone"
VERIFIED_MAX_AGE = 15 * 60
WECHAT_BIND_KEY = "centre_wechat_openid"
MARKETING_TOPICS = (ConsentTopic.MARKETING_SMS, ConsentTopic.MARKETING_EMAIL, ConsentTopic.MARKETING_WECHAT)


# --- helpers ---------------------------------------------------------------------------------


def safe_next(request, value: str | None) -> str:
    """`value` when it is a page of the member centre on this site, else `/m/`."""
    value = (value or "").strip()
    if (
        value.startswith("/m/")
        and not value.startswith("//")
        and "\\" not in value
        and url_has_allowed_host_and_scheme(value, allowed_hosts={request.get_host()}, require_https=False)
    ):
        return value
    return "/m/"


def verified_token(phone: str) -> str:
    return signing.dumps({"p": phone}, salt=VERIFIED_SALT)


def read_verified_token(token: str) -> str | None:
    try:
        data = signing.loads(token or "", salt=VERIFIED_SALT, max_age=VERIFIED_MAX_AGE)
    except signing.BadSignature:
        return None
    return data.get("p") if isinstance(data, dict) else None


def member_for_phone(phone: str) -> Member | None:
    return Member.objects.not_erased().with_phone(phone).first()


def _after_sign_in(request, member: Member, *, receipt: str = "") -> None:
    """What follows any sign-in: bind a pending WeChat openid, credit a receipt's purchase."""
    openid = request.session.pop(WECHAT_BIND_KEY, None) if hasattr(request, "session") else None
    if openid:
        try:
            services.bind_wechat_openid(member, openid)
            messages.success(request, _("Your WeChat account is linked: next time, sign in with WeChat."))
        except ValidationError:  # bound to another member (the staff message names them: not shown here)
            messages.error(request, _("This WeChat account is already linked to another member."))
    if receipt:
        credit_receipt(request, member, receipt)


def credit_receipt(request, member: Member, token: str) -> None:
    from rewards.errors import JoinTokenInvalid
    from rewards.services.walkin import credit_walk_in_purchase

    try:
        credit = credit_walk_in_purchase(member=member, token=token)
    except JoinTokenInvalid as exc:
        messages.error(request, exc.detail)
        return
    messages.success(
        request,
        _("Your purchase of ¥%(total)s has been credited: +%(points)d points.")
        % {"total": credit.purchase.total, "points": credit.points_earned},
    )


def _phone_field():
    return forms.CharField(
        label=gettext_lazy("Mobile number"),
        max_length=32,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"}),
    )


def _code_field(required=True):
    return forms.CharField(
        label=gettext_lazy("Verification code"),
        max_length=6,
        min_length=6,
        required=required,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "pattern": "[0-9]{6}"}),
    )


def _clean_phone(value: str) -> str:
    return services.otp.phone_key(value)


class PhoneForm(forms.Form):
    phone = _phone_field()

    def clean_phone(self):
        return _clean_phone(self.cleaned_data["phone"])


class CodeForm(PhoneForm):
    code = _code_field()


class JoinForm(forms.Form):
    phone = _phone_field()
    code = _code_field(required=False)
    name = forms.CharField(label=gettext_lazy("Your name"), max_length=100, required=False)
    email = forms.EmailField(label=gettext_lazy("Email (optional)"), required=False)
    birthday = forms.DateField(
        label=gettext_lazy("Birthday (optional)"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    accept_terms = forms.BooleanField(required=False)
    marketing_sms = forms.BooleanField(label=gettext_lazy("Offers and news by SMS"), required=False)
    marketing_email = forms.BooleanField(label=gettext_lazy("Offers and news by email"), required=False)
    marketing_wechat = forms.BooleanField(label=gettext_lazy("Offers and news on WeChat"), required=False)

    def clean_phone(self):
        return _clean_phone(self.cleaned_data["phone"])

    def clean_birthday(self):
        birthday = self.cleaned_data.get("birthday")
        if birthday and not (datetime.date(1900, 1, 1) <= birthday <= datetime.date.today()):
            raise ValidationError(_("Enter your real birthday."))
        return birthday


def _store_for(code: str) -> Store | None:
    code = (code or "").strip()
    if not code or len(code) > 32:
        return None
    return Store.objects.filter(code=code, is_active=True).first()


def _receipt_purchase(token: str):
    """(purchase, problem): the walk-in purchase of a receipt's join link, or why it cannot be credited."""
    if not token:
        return None, ""
    from rewards.errors import JoinTokenInvalid
    from rewards.services.walkin import check_join_token

    try:
        return check_join_token(token), ""
    except JoinTokenInvalid as exc:
        return None, exc.detail


# --- sign in ---------------------------------------------------------------------------------


def _render_login(request, *, step: str, form, next_url: str, receipt: str = "", status: int = 200, **extra):
    context = {
        "step": step,
        "form": form,
        "next": next_url,
        "receipt": receipt,
        "wechat": wechat_oauth.is_configured(),
        **extra,
    }
    return render(request, "centre/login.html", context, status=status)


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def login(request):
    """Phone → code → signed in. A phone with no member is offered to join (after the code)."""
    next_url = safe_next(request, request.POST.get("next") or request.GET.get("next"))
    receipt = (request.POST.get("receipt") or "")[:500]
    if request.method == "GET":
        if current_member(request) is not None:
            return redirect(next_url)
        return _render_login(request, step="phone", form=PhoneForm(), next_url=next_url)
    action = request.POST.get("action")
    if action == "send":
        form = PhoneForm(request.POST)
        if not form.is_valid():
            return _render_login(request, step="phone", form=form, next_url=next_url, receipt=receipt, status=400)
        phone = form.cleaned_data["phone"]
        try:
            sent = services.request_code(phone, purpose=OtpChallenge.Purpose.SIGN_IN, client_ip=client_ip(request))
        except services.OtpRefused as exc:
            form.add_error(None, exc.detail)
            return _render_login(request, step="phone", form=form, next_url=next_url, receipt=receipt, status=429)
        code_form = CodeForm(initial={"phone": phone})
        messages.info(request, _("We sent a 6-digit code by SMS. It is valid for 5 minutes."))
        return _render_login(
            request, step="code", form=code_form, next_url=next_url, receipt=receipt, phone=phone, wait=sent.retry_after
        )
    if action == "verify":
        form = CodeForm(request.POST)
        if not form.is_valid():
            phone = request.POST.get("phone", "")[:32]
            return _render_login(
                request, step="code", form=form, next_url=next_url, receipt=receipt, phone=phone, status=400
            )
        phone = form.cleaned_data["phone"]
        if not services.verify_code(phone, form.cleaned_data["code"]):
            form.add_error("code", _("This code is wrong or has expired. Check the SMS or ask for a new code."))
            return _render_login(
                request, step="code", form=form, next_url=next_url, receipt=receipt, phone=phone, status=400
            )
        member = member_for_phone(phone)
        if member is None or member.status != Member.Status.ACTIVE:
            if member is not None:  # frozen: not a stranger, they proved the phone
                form.add_error(None, _("This membership is suspended. Please ask at a store."))
                return _render_login(request, step="phone", form=PhoneForm(), next_url=next_url, status=403)
            return _render_login(
                request,
                step="join",
                form=None,
                next_url=next_url,
                receipt=receipt,
                verified=verified_token(phone),
            )
        response = redirect(next_url)
        sign_in(request, response, member)
        _after_sign_in(request, member, receipt=receipt)
        return response
    return HttpResponseBadRequest(_("Unknown action."))


# --- join ------------------------------------------------------------------------------------


def _render_join(request, *, form, store, receipt, receipt_problem="", verified="", status=200, code_sent=False):
    context = {
        "form": form,
        "store": store,
        "receipt": receipt,
        "receipt_problem": receipt_problem,
        "verified": verified,
        "code_sent": code_sent,
        "terms": services.current_terms(),
        "topics": [form[topic] for topic in MARKETING_TOPICS],
    }
    return render(request, "centre/join.html", context, status=status)


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def join(request):
    """Join at the counter (`?store=<code>`) or from a walk-in receipt (`?receipt=<token>`)."""
    source = request.POST if request.method == "POST" else request.GET
    store = _store_for(source.get("store", ""))
    receipt = (source.get("receipt") or "")[:500]
    purchase, receipt_problem = _receipt_purchase(receipt)
    if store is None and purchase is not None and purchase.store_id:
        store = Store.objects.filter(pk=purchase.store_id).first()
    if request.method == "GET":
        if receipt and current_member(request) is not None:
            # A signed-in member scanning a receipt's code: credit it at once.
            member = current_member(request)
            credit_receipt(request, member, receipt)
            return redirect("/m/")
        return _render_join(request, form=JoinForm(), store=store, receipt=receipt, receipt_problem=receipt_problem)

    action = request.POST.get("action")
    verified = request.POST.get("verified", "")
    verified_phone = read_verified_token(verified)
    form = JoinForm(request.POST)
    if action == "start":  # from the sign-in page: a proved phone that is no member yet
        if verified_phone is None:
            return redirect(reverse("centre:join"))
        form = JoinForm(initial={"phone": verified_phone})
        return _render_join(request, form=form, store=store, receipt=receipt, verified=verified)
    if action == "send":
        phone_form = PhoneForm(request.POST)
        if not phone_form.is_valid():
            form.is_valid()
            form.errors.clear()
            form.add_error("phone", phone_form.errors["phone"])
            return _render_join(request, form=form, store=store, receipt=receipt, status=400)
        phone = phone_form.cleaned_data["phone"]
        existing = member_for_phone(phone)
        purpose = OtpChallenge.Purpose.SIGN_IN if existing else OtpChallenge.Purpose.JOIN
        try:
            sent = services.request_code(phone, purpose=purpose, client_ip=client_ip(request))
        except services.OtpRefused as exc:
            form.is_valid()
            form.errors.clear()
            form.add_error("phone", exc.detail)
            return _render_join(request, form=form, store=store, receipt=receipt, status=429)
        if existing:
            messages.info(request, _("This phone is already a member. We sent a code to sign in."))
            return _render_login(
                request,
                step="code",
                form=CodeForm(initial={"phone": phone}),
                next_url="/m/",
                receipt=receipt,
                phone=phone,
                wait=sent.retry_after,
            )
        messages.info(request, _("We sent a 6-digit code by SMS. It is valid for 5 minutes."))
        form = JoinForm(request.POST)
        form.is_valid()
        form.errors.clear()
        return _render_join(request, form=form, store=store, receipt=receipt, code_sent=True)
    if action != "join":
        return HttpResponseBadRequest(_("Unknown action."))

    if not form.is_valid():
        return _render_join(request, form=form, store=store, receipt=receipt, verified=verified, status=400)
    data = form.cleaned_data
    phone = data["phone"]
    if not data["name"].strip():
        form.add_error("name", _("Enter your name."))
    terms = services.current_terms()
    if not data["accept_terms"]:
        form.add_error("accept_terms", _("Accept the terms of membership and the privacy notice to join."))
    if verified_phone != phone and not data["code"]:
        form.add_error("code", _("Enter the 6-digit code we sent by SMS."))
    if form.errors:
        return _render_join(request, form=form, store=store, receipt=receipt, verified=verified, status=400)
    if verified_phone != phone:
        if not services.verify_code(phone, data["code"]):
            form.add_error("code", _("This code is wrong or has expired. Check the SMS or ask for a new code."))
            return _render_join(request, form=form, store=store, receipt=receipt, status=400)
        verified = verified_token(phone)
    existing = member_for_phone(phone)
    if existing is not None:  # joined in the meantime (another tab): sign in, never a duplicate
        if existing.status != Member.Status.ACTIVE:
            form.add_error(None, _("This membership is suspended. Please ask at a store."))
            return _render_join(request, form=form, store=store, receipt=receipt, status=403)
        messages.info(request, _("This phone is already a member: you are signed in."))
        response = redirect("/m/")
        sign_in(request, response, existing)
        _after_sign_in(request, existing, receipt=receipt)
        return response
    try:
        with transaction.atomic():
            member = services.create_member(
                name=data["name"],
                phone=phone,
                email=data["email"] or None,
                birthday=data["birthday"],
                home_store=store,
                consents={topic: bool(data[topic]) for topic in MARKETING_TOPICS},
                source_channel=Member.SourceChannel.QR_STORE if (store or receipt) else Member.SourceChannel.OTHER,
                consent_source=ConsentSource.MEMBER_CENTRE,
            )
            services.accept_terms(member=member, versions=terms, source="web", client_ip=client_ip(request))
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
        return _render_join(request, form=form, store=store, receipt=receipt, verified=verified, status=400)
    except services.TermsNotCurrent as exc:  # a new version was published while the page was open
        form.add_error("accept_terms", exc.detail)
        return _render_join(request, form=form, store=store, receipt=receipt, verified=verified, status=409)
    messages.success(request, _("Welcome, %(name)s! You are a member now.") % {"name": member.name})
    response = redirect("/m/")
    sign_in(request, response, member)
    _after_sign_in(request, member, receipt=receipt)
    return response


# --- terms -----------------------------------------------------------------------------------


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
@member_required(terms=False)
def terms(request):
    """Accept the current terms and privacy notice (after a new version was published)."""
    next_url = safe_next(request, request.POST.get("next") or request.GET.get("next"))
    pending = services.pending_terms(request.member)
    if not pending and request.method == "GET":
        return redirect(next_url)
    if request.method == "POST":
        asked = {value for value in request.POST.getlist("version") if value.isdigit()}
        if not request.POST.get("accept") or asked != {str(v.pk) for v in pending}:
            messages.error(request, _("Tick the box to accept the new terms, or sign out."))
        else:
            try:
                services.accept_terms(
                    member=request.member, versions=pending, source="web", client_ip=client_ip(request)
                )
            except services.TermsNotCurrent as exc:
                messages.error(request, exc.detail)
            else:
                messages.success(request, _("Thank you. You accepted the current terms."))
                return redirect(next_url)
        pending = services.pending_terms(request.member)
    full = list(TermsVersion.objects.filter(pk__in=[v.pk for v in pending]).order_by("kind"))
    return render(request, "centre/terms.html", {"pending": full, "next": next_url})


@require_http_methods(["GET"])
def terms_text(request, kind: str):
    """The current terms of membership or privacy notice, to read before joining."""
    if kind not in TermsVersion.Kind.values:
        raise Http404
    version = next((v for v in services.current_terms() if v.kind == kind), None)
    if version is None:
        raise Http404
    return render(request, "centre/terms_text.html", {"version": version})


# --- sign out --------------------------------------------------------------------------------


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def logout(request):
    if request.method == "GET":
        return render(request, "centre/logout.html", {})
    response = redirect(reverse("centre:login"))
    sign_out(request, response)
    messages.info(request, _("You are signed out."))
    return response


# --- WeChat ----------------------------------------------------------------------------------


def _callback_url(request) -> str:
    from django.conf import settings

    return settings.SITE_URL.rstrip("/") + reverse("centre:wechat_callback")


@require_http_methods(["GET"])
def wechat_start(request):
    """Send the browser to WeChat's OAuth (snsapi_base: the openid, no consent screen)."""
    if not wechat_oauth.is_configured():
        raise Http404
    next_url = safe_next(request, request.GET.get("next"))
    state = wechat_oauth.make_state(next_url=next_url)
    return redirect(wechat_oauth.authorize_url(redirect_uri=_callback_url(request), state=state))


@never_cache
@require_http_methods(["GET"])
def wechat_callback(request):
    """WeChat sends the browser back with a code: sign in the member with that openid, or have
    them sign in by phone once and bind it."""
    if not wechat_oauth.is_configured():
        raise Http404
    next_url = wechat_oauth.read_state(request.GET.get("state", ""))
    if next_url is None:
        return HttpResponseBadRequest(_("This WeChat sign-in link has expired or is not valid. Please try again."))
    next_url = safe_next(request, next_url)
    try:
        openid = wechat_oauth.openid_for_code(request.GET.get("code", ""))
    except wechat_oauth.WeChatOAuthError:
        messages.error(request, _("WeChat did not confirm the sign-in. Please try again or use your phone."))
        return redirect(reverse("centre:login"))
    member = Member.objects.active().filter(wechat_openid=openid).first()
    if member is not None:
        response = redirect(next_url)
        sign_in(request, response, member, source=MemberSession.Source.WECHAT)
        return response
    request.session[WECHAT_BIND_KEY] = openid
    messages.info(request, _("Sign in with your phone once to link your WeChat account."))
    return redirect(f"{reverse('centre:login')}?{urlencode({'next': next_url})}")
