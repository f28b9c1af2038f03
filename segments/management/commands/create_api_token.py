from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from segments.models import ApiToken


class Command(BaseCommand):
    help = "Print a new API token for USERNAME on stdout (and nothing else)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="cli", help="a label for the token")

    def handle(self, *args, username: str, name: str, **options) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        _, raw = ApiToken.issue(user, name=name)
        self.stdout.write(raw)
