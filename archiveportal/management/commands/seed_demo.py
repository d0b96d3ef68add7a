"""``manage.py seed_demo``: the embedded mode's demo accounts, one per role, printed.

``pi`` is linked to the ALMA account ``demo_pi`` that owns the sample's synthetic proprietary
project; ``delegate`` holds the PI's delegation for it; ``member`` has no special rights;
``labadmin`` administers the portal. Idempotent: passwords are reset to ``DEMO_PASSWORD``.
"""

from __future__ import annotations

import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from downloads.models import AlmaIdentity, Delegation, DelegationEvent
from queries.models import Project

DEMO_PI_USERID = "demo_pi"


class Command(BaseCommand):
    help = "Create (or reset) the demo accounts and print them."

    @transaction.atomic
    def handle(self, *args, **options):
        password = os.environ.get("DEMO_PASSWORD", "archive-demo")
        user_model = get_user_model()
        roles = [
            ("pi", "PI of the synthetic proprietary project", {}),
            ("delegate", "holds the PI's data delegation", {}),
            ("member", "an ordinary lab member", {}),
            (
                "labadmin",
                "administrator (Django admin at /admin/)",
                {"is_staff": True, "is_superuser": True},
            ),
        ]
        users = {}
        for username, _, flags in roles:
            user, _ = user_model.objects.get_or_create(
                username=username, defaults={"email": f"{username}@lab.example.org"}
            )
            for key, value in flags.items():
                setattr(user, key, value)
            user.set_password(password)
            user.save()
            users[username] = user
        AlmaIdentity.objects.update_or_create(
            user=users["pi"], defaults={"alma_userid": DEMO_PI_USERID, "alma_name": "Demo, Pat"}
        )
        for project in Project.objects.filter(pi_userid=DEMO_PI_USERID):
            delegation, created = Delegation.objects.get_or_create(
                pi=users["pi"],
                delegate=users["delegate"],
                project=project,
                revoked_at=None,
                defaults={"created_by": users["pi"]},
            )
            if created:
                DelegationEvent.objects.create(
                    delegation=delegation,
                    action=DelegationEvent.Action.GRANT,
                    actor=users["pi"],
                    detail=f"demo: data access to {project.code}",
                )
        self.stdout.write(f"\nDemo accounts (embedded mode), password: {password}\n")
        for username, role, _ in roles:
            self.stdout.write(f"  {username:<10} {role}")
        self.stdout.write("")
