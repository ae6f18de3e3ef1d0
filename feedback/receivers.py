"""Reactions to other apps' documented signals; each calls one feedback service."""

from django.dispatch import receiver

from members.signals import member_erased


@receiver(member_erased, dispatch_uid="feedback.anonymise_member_tickets")
def anonymise_tickets_of_erased_member(sender, member, **kwargs):
    from feedback.services import anonymise_member_tickets

    anonymise_member_tickets(member=member)
