"""Static file URLs that follow the request's path prefix (API Gateway's stage, /production/...)."""
from django.contrib.staticfiles.storage import StaticFilesStorage
from django.urls import get_script_prefix


class StagePrefixedStaticFilesStorage(StaticFilesStorage):
    """Prefix static URLs with the current request's script name.

    On the execute-api host Zappa serves the site under /<stage>/; on a custom domain under /. Django
    adds the prefix to a relative STATIC_URL only once, at the first read of the setting, so it could
    not tell the two apart; the prefix is added here for each request instead.
    """

    def url(self, name):
        return get_script_prefix().rstrip("/") + super().url(name)
