"""Settings for the scheduler, read from the environment in this one place (see README, Settings)."""
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local .env is a convenience for developers; on Lambda the environment comes from Zappa.
if (BASE_DIR / ".env").is_file():
    env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DJANGO_DEBUG", default=False)
ON_LAMBDA = "AWS_LAMBDA_FUNCTION_NAME" in env  # set by the Lambda runtime
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if ON_LAMBDA:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is required on Lambda; give it to the function from your secret store (see README)."
        )
    SECRET_KEY = "insecure-local-key-never-used-on-lambda"  # `check --deploy` flags it, as it should
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
# The admin's URL path: another one than the well-known admin/ keeps scanners off the login page.
ADMIN_PATH = env.str("DJANGO_ADMIN_PATH", default="admin/").strip("/") + "/"
if ADMIN_PATH == "/":
    raise ImproperlyConfigured("DJANGO_ADMIN_PATH must name a path, such as backstage/ (default admin/).")

# HTTPS-only behaviour, on by default on Lambda (API Gateway serves HTTPS only, and Zappa marks every
# request secure): HSTS and secure cookies; `manage.py check --deploy` passes with it.
HTTPS = env.bool("DJANGO_HTTPS", default=ON_LAMBDA)
if HTTPS:
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=True)
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True

INSTALLED_APPS = [
    "tasks.apps.TasksConfig",  # first, so that its admin templates (health banner, upcoming page) override the admin's
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "worker.apps.WorkerConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "scheduler_site.urls"
WSGI_APPLICATION = "scheduler_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

if ON_LAMBDA and "DATABASE_URL" not in env:
    # The package is read-only on Lambda: a SQLite file there would fail at the first write, not at start-up.
    raise ImproperlyConfigured("DATABASE_URL is required on Lambda (postgres://user:password@host:5432/name; see README).")
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")  # the editors' zone: the admin shows and takes times in it
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"  # absolute: the storage adds the request's stage prefix (scheduler_site/static.py)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "scheduler_site.static.StagePrefixedStaticFilesStorage"},
}
# WhiteNoise serves the apps' static files (the admin's) straight from the package: no collectstatic
# step, no bucket, the same files locally and on Lambda. It indexes the few hundred files at start-up.
WHITENOISE_USE_FINDERS = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "tasks": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO"), "propagate": False},
        "worker": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO"), "propagate": False},
    },
}

# --- The JSON API (tasks/api) -----------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header makes an anonymous request a 401, not a 403.
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.TokenAuthentication",
                                       "rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer", "rest_framework.renderers.BrowsableAPIRenderer"],
    "DEFAULT_PARSER_CLASSES": ["tasks.api.parsers.BoundedJSONParser"],  # JSON in, as the schema says
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "tasks.api.errors.handle",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Slow scheduler API",
    "DESCRIPTION": "Schedule publish and withdraw tasks and licence windows. Authenticate with "
                   "`Authorization: Token <key>`.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",  # the docs page's assets come from the package, not a CDN
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- The scheduler -------------------------------------------------------------------------------
SCHEDULER_TABLE = env.str("SCHEDULER_TABLE", default="scheduled-tasks")
SCHEDULER_DYNAMODB_ENDPOINT_URL = env.str("DYNAMODB_ENDPOINT_URL", default="") or None  # unset: AWS
SCHEDULER_AWS_REGION = env.str("AWS_REGION", default="eu-west-1")
SCHEDULER_SHARDS = env.int("SCHEDULER_SHARDS", default=4)
SCHEDULER_TICK_SECONDS = env.int("SCHEDULER_TICK_SECONDS", default=60)
SCHEDULER_LEASE_SECONDS = env.int("SCHEDULER_LEASE_SECONDS", default=300)
SCHEDULER_CONCURRENCY = env.int("SCHEDULER_CONCURRENCY", default=16)
SCHEDULER_MAX_ATTEMPTS = env.int("SCHEDULER_MAX_ATTEMPTS", default=8)
SCHEDULER_RETRY_BASE_SECONDS = env.int("SCHEDULER_RETRY_BASE_SECONDS", default=60)
SCHEDULER_WEBHOOK_URL = env.str("SCHEDULER_WEBHOOK_URL", default="")
SCHEDULER_WEBHOOK_SECRET = env.str("SCHEDULER_WEBHOOK_SECRET", default="")
SCHEDULER_WEBHOOK_TIMEOUT_SECONDS = env.float("SCHEDULER_WEBHOOK_TIMEOUT_SECONDS", default=10.0)
# Finished items (done, failed, cancelled) expire from DynamoDB this many days after they finish, by the
# table's TTL (0: kept for ever). The SQL rows keep their history regardless.
SCHEDULER_RETENTION_DAYS = env.int("SCHEDULER_RETENTION_DAYS", default=400)
# ensure_table turns DynamoDB's deletion protection on (the production stage sets it); it never turns it off.
SCHEDULER_DELETION_PROTECTION = env.bool("SCHEDULER_DELETION_PROTECTION", default=False)
# Action name -> dotted path of the callable that performs it. The default handler sends the signed
# webhook when SCHEDULER_WEBHOOK_URL is set, and otherwise only logs (its outcome says so).
SCHEDULER_ACTIONS = {
    "publish": "worker.actions.default_handler",
    "withdraw": "worker.actions.default_handler",
}

if SCHEDULER_WEBHOOK_URL and not SCHEDULER_WEBHOOK_SECRET:
    raise ImproperlyConfigured("SCHEDULER_WEBHOOK_SECRET (whsec_...) is required when SCHEDULER_WEBHOOK_URL is set.")
if SCHEDULER_LEASE_SECONDS <= SCHEDULER_WEBHOOK_TIMEOUT_SECONDS:
    raise ImproperlyConfigured("SCHEDULER_LEASE_SECONDS must be longer than SCHEDULER_WEBHOOK_TIMEOUT_SECONDS.")
