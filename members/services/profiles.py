"""Creating and changing member profiles: numbers, contact data, tags."""

from __future__ import annotations

import datetime
import re
import secrets
from collections.abc import Iterable, Mapping

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty_crm import crypto
from members import signals
from members.models import (
    ConsentSource,
    Member,
    Store,
    Tag,
)
from members.normalize import email_key, normalise_email, normalise_phone
from members.services._common import REFERRAL_ALPHABET, MemberErased
from members.services.consents import set_consents

# --- numbers -------------------------------------------------------------------------------


def _random_member_no() -> str:
    return "M" + str(secrets.randbelow(9 * 10**9) + 10**9)


def _random_referral_code() -> str:
    return "".join(secrets.choice(REFERRAL_ALPHABET) for _i in range(8))


def _fresh(count: int, make, field: str) -> list[str]:
    """`count` new values unique among themselves and in the table (one query per round)."""
    chosen: set[str] = set()
    while len(chosen) < count:
        candidates = {make() for _i in range(count - len(chosen))} - chosen
        taken = set(Member.objects.filter(**{f"{field}__in": candidates}).order_by().values_list(field, flat=True))
        chosen |= candidates - taken
    return list(chosen)


def new_member_numbers(count: int) -> list[tuple[str, str]]:
    """`count` pairs of (member_no, referral_code) not used by any member."""
    return list(
        zip(
            _fresh(count, _random_member_no, "member_no"),
            _fresh(count, _random_referral_code, "referral_code"),
            strict=True,
        )
    )


# --- contact data --------------------------------------------------------------------------


def phone_last4(phone: str) -> str:
    """The last four digits of a normalised phone: what the till's "last 4 + pick" lookup matches
    (no more than every masked phone shows)."""
    return "".join(ch for ch in phone if ch.isdigit())[-4:]


def apply_contact_data(
    member: Member,
    *,
    phone: str | object | None = ...,
    email: str | object | None = ...,
    birthday: datetime.date | object | None = ...,
) -> None:
    """Set phone, email and birthday (normalised) with their hashes; `...` leaves a field as is.

    Raises ValidationError keyed by field name.
    """
    errors: dict[str, list] = {}
    if phone is not ...:
        if phone:
            try:
                member.phone = normalise_phone(phone)
                member.phone_hash = crypto.lookup_hash(member.phone)
                member.phone_last4 = phone_last4(member.phone)
            except ValidationError as exc:
                errors["phone"] = exc.messages
        else:
            member.phone, member.phone_hash, member.phone_last4 = None, "", ""
    if email is not ...:
        if email:
            try:
                member.email = normalise_email(email)
                member.email_hash = crypto.lookup_hash(email_key(member.email))
            except ValidationError:
                errors["email"] = [_("“%(value)s” is not a valid email address.") % {"value": email}]
        else:
            member.email, member.email_hash = None, ""
    if birthday is not ...:
        if birthday and not isinstance(birthday, datetime.date):
            errors["birthday"] = [_("Enter a valid date.")]
        elif birthday and birthday > timezone.localdate():
            errors["birthday"] = [_("The birthday cannot be in the future.")]
        else:
            member.birthday = birthday or None
            member.birth_month = birthday.month if birthday else None
            member.birth_day = birthday.day if birthday else None
    if errors:
        raise ValidationError(errors)


def _check_phone_free(member: Member) -> None:
    if not member.phone_hash:
        return
    clash = Member.objects.filter(phone_hash=member.phone_hash).exclude(pk=member.pk).first()
    if clash:
        raise ValidationError(
            {"phone": [_("Member %(member_no)s already has this phone number.") % {"member_no": clash.member_no}]}
        )


def _check_external_id_free(member: Member) -> None:
    if not member.external_id:
        return
    clash = Member.objects.filter(external_id=member.external_id).exclude(pk=member.pk).first()
    if clash:
        raise ValidationError(
            {"external_id": [_("Member %(member_no)s already has this external ID.") % {"member_no": clash.member_no}]}
        )


def resolve_referrer(referral_code: str | None) -> Member | None:
    if not referral_code:
        return None
    referrer = Member.objects.not_erased().filter(referral_code=referral_code.strip().upper()).first()
    if referrer is None:
        raise ValidationError(
            {"referral_code": [_("No member has the referral code “%(code)s”.") % {"code": referral_code}]}
        )
    return referrer


# --- members -------------------------------------------------------------------------------


@transaction.atomic
def create_member(
    *,
    name: str,
    phone: str | None = None,
    email: str | None = None,
    birthday: datetime.date | None = None,
    gender: str = Member.Gender.UNKNOWN,
    home_store: Store | None = None,
    external_id: str | None = None,
    consents: Mapping[str, bool] | None = None,
    referral_code: str | None = None,
    source_channel: str = Member.SourceChannel.STORE,
    registered_at: datetime.datetime | None = None,
    notes: str = "",
    tags: Iterable[str] = (),
    actor=None,
    consent_source: str = ConsentSource.ADMIN,
) -> Member:
    """Register a customer. A phone or an email is required; the phone must be free."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": [_("Enter the member's name.")]})
    if not phone and not email:
        raise ValidationError({"phone": [_("Enter a phone number or an email address.")]})
    member_no, code = new_member_numbers(1)[0]
    member = Member(
        member_no=member_no,
        referral_code=code,
        name=name,
        gender=gender or Member.Gender.UNKNOWN,
        home_store=home_store,
        external_id=(external_id or "").strip() or None,
        referred_by=resolve_referrer(referral_code),
        source_channel=source_channel,
        registered_at=registered_at or timezone.now(),
        notes=notes or "",
    )
    apply_contact_data(member, phone=phone, email=email, birthday=birthday)
    _check_phone_free(member)
    _check_external_id_free(member)
    member._history_user = actor
    member.full_clean(exclude=["phone", "email", "birthday", "tags"], validate_unique=False)
    try:
        with transaction.atomic():
            member.save()
    except IntegrityError as exc:  # a concurrent registration took the phone or external id
        # It has committed by now (the insert waited for it): name the member as the checks do.
        _check_phone_free(member)
        _check_external_id_free(member)
        raise ValidationError({"phone": [_("This phone number or external ID is already registered.")]}) from exc
    if tags:
        set_tags(member=member, names=tags)
    if consents:
        set_consents(member=member, consents=consents, actor=actor, source=consent_source)
    signals.send_after_commit(signals.member_registered, sender=Member, member=member, actor=actor)
    return member


# The change history's reason when the member changed their own profile in the member centre.
MEMBER_CENTRE_REASON = "member_centre"

UPDATABLE_FIELDS = {"name", "gender", "home_store", "status", "notes", "external_id", "source_channel"}


@transaction.atomic
def update_member(
    *,
    member: Member,
    actor=None,
    consents: Mapping[str, bool] | None = None,
    consent_source: str = ConsentSource.ADMIN,
    tags: Iterable[str] | None = None,
    change_reason: str | None = None,
    **changes,
) -> Member:
    """Change a profile; only the given fields change. Erased profiles cannot change.

    `change_reason` goes into the change history beside `actor` (e.g. `MEMBER_CENTRE_REASON` when
    the member changed it themselves, with no staff actor)."""
    member = Member.objects.select_for_update().get(pk=member.pk)
    if member.is_erased:
        raise MemberErased(
            _("Member %(member_no)s has been erased and cannot be changed.") % {"member_no": member.member_no}
        )
    unknown = set(changes) - UPDATABLE_FIELDS - {"phone", "email", "birthday"}
    if unknown:
        raise ValidationError({field: [_("This field cannot be changed.")] for field in sorted(unknown)})
    if changes.get("status") == Member.Status.ERASED:
        raise ValidationError({"status": [_("Use the erase action to erase a member.")]})
    if "name" in changes and not (changes["name"] or "").strip():
        raise ValidationError({"name": [_("Enter the member's name.")]})
    for field in UPDATABLE_FIELDS & set(changes):
        value = changes[field]
        if field == "external_id":
            value = (value or "").strip() or None
        setattr(member, field, value)
    apply_contact_data(
        member,
        phone=changes.get("phone", ...),
        email=changes.get("email", ...),
        birthday=changes.get("birthday", ...),
    )
    if not member.phone and not member.email:
        raise ValidationError({"phone": [_("Enter a phone number or an email address.")]})
    _check_phone_free(member)
    _check_external_id_free(member)
    member.full_clean(exclude=["phone", "email", "birthday", "tags"], validate_unique=False)
    member._history_user = actor
    if change_reason:
        member._change_reason = change_reason
    member.save()
    if tags is not None:
        set_tags(member=member, names=tags)
    if consents:
        set_consents(member=member, consents=consents, actor=actor, source=consent_source)
    return member


def set_tags(*, member: Member, names: Iterable[str]) -> None:
    wanted = sorted({name.strip() for name in names if name and name.strip()})
    existing = {tag.name: tag for tag in Tag.objects.filter(name__in=wanted)}
    missing = [Tag(name=name) for name in wanted if name not in existing]
    if missing:
        Tag.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {tag.name: tag for tag in Tag.objects.filter(name__in=wanted)}
    member.tags.set(existing.values())


# --- WeChat openid (the WeChat channel; issue 14) ---------------------------------------------

# An Official Account openid: WeChat issues 28 URL-safe characters; a little room either side.
WECHAT_OPENID_PATTERN = re.compile(r"[A-Za-z0-9_-]{6,64}")


@transaction.atomic
def bind_wechat_openid(member: Member, openid: str | None, actor=None) -> Member:
    """Bind `openid` to `member` (staff by hand, or the member centre after WeChat's OAuth); an
    empty value unbinds. The change is recorded in the member's history with `actor`. An openid
    already bound to another member is refused (ValidationError on `wechat_openid`, code
    `wechat_openid_taken`): staff unbind it there first."""
    openid = (openid or "").strip() or None
    member = Member.objects.select_for_update().get(pk=member.pk)
    if member.is_erased:
        raise MemberErased(
            _("Member %(member_no)s has been erased and cannot be changed.") % {"member_no": member.member_no}
        )
    if openid is not None and not WECHAT_OPENID_PATTERN.fullmatch(openid):
        raise ValidationError(
            {"wechat_openid": [_("A WeChat openid is 6 to 64 letters, digits, “-” or “_”.")]}, code="invalid"
        )
    if member.wechat_openid == openid:
        return member

    def taken() -> ValidationError | None:
        clash = Member.objects.filter(wechat_openid=openid).exclude(pk=member.pk).first() if openid else None
        if clash is None:
            return None
        return ValidationError(
            {
                "wechat_openid": ValidationError(
                    _("This WeChat openid is already bound to member %(member_no)s.") % {"member_no": clash.member_no},
                    code="wechat_openid_taken",
                )
            }
        )

    error = taken()
    if error:
        raise error
    member.wechat_openid = openid
    member._history_user = actor
    try:
        with transaction.atomic():
            member.save(update_fields=["wechat_openid", "updated_at"])
    except IntegrityError as exc:  # bound elsewhere at the same moment: it has committed by now
        raise taken() or ValidationError({"wechat_openid": [_("This WeChat openid is already bound.")]}) from exc
    return member
