"""manage.py create_api_token: a service account for the JSON API, and its token on stdout."""
from django.core.management.base import BaseCommand, CommandError

from tasks.accounts import PERMISSIONS, service_account


class Command(BaseCommand):
    help = ("Create or update a service account for the API with the given task permissions, and print its token "
            "(alone on stdout, for TOKEN=$(...)).")

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--permissions", default="view", metavar="LIST",
                            help=f"comma-separated, from {','.join(PERMISSIONS)} (default: view)")
        parser.add_argument("--rotate", action="store_true", help="replace the account's token with a new one")

    def handle(self, *args, **options):
        permissions = [p.strip() for p in options["permissions"].split(",") if p.strip()]
        try:
            token = service_account(options["username"], permissions, new_token=options["rotate"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stderr.write(f"Token of service account {options['username']} (permissions: {', '.join(permissions)}):")
        self.stdout.write(token)
