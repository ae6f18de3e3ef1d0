"""Reactions to other apps' documented signals; each calls one feedback service."""

from django.dispatch import receiver

from members.signals import member_erased, tiers_changed


@receiver(member_erased, dispatch_uid="feedback.anonymise_member_tickets")
def anonymise_tickets_of_erased_member(sender, member, **kwargs):
    from feedback.services import anonymise_member_tickets

    anonymise_member_tickets(member=member)


@receiver(tiers_changed, dispatch_uid="feedback.reprioritise_member_tickets")
def reprioritise_tickets_of_members(sender, member_ids, **kwargs):
    from feedback.services.priorities import reprioritise_member_tickets

    reprioritise_member_tickets(member_ids=member_ids)
