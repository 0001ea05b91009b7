"""Settings for Boundaries: the only settings module, driven by the environment.

Every value a deployment may change is read from an environment variable (the README
lists them). The defaults make a fresh checkout run on SQLite; production sets
DJANGO_SECRET_KEY, DJANGO_ALLOWED_HOSTS and DATABASE_URL and leaves DJANGO_DEBUG off.
"""

import os
import re
import zoneinfo
from datetime import timedelta
from email.errors import HeaderParseError
from email.headerregistry import AddressHeader
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
# A value quoted in a configuration error is cut to this many characters.
_SHOWN = 40


def _shown(raw: str) -> str:
    """``raw`` quoted for an error message, shortened when long (a mistyped value can be
    a pasted page)."""
    return repr(raw) if len(raw) <= _SHOWN else f"{raw[:_SHOWN]!r}... ({len(raw)} characters)"


def env_bool(name: str, default: bool) -> bool:
    """A strict boolean: anything other than the usual spellings is a configuration error.
    Empty is the default, as for the other settings (a blank ``DJANGO_HTTPS=`` line in an
    environment file turned HTTPS off)."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {_shown(raw)}.")


def env_int(name: str, default: int, *, minimum: int, maximum: int | None = None) -> int:
    """A whole number from ``minimum`` to ``maximum`` (no upper bound when None): anything
    else is a configuration error that names the variable and the range."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    allowed = f"from {minimum} to {maximum}" if maximum is not None else f"at least {minimum}"
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(
            f"{name} must be a whole number ({allowed}), not {_shown(raw)}."
        ) from None
    if value < minimum or (maximum is not None and value > maximum):
        raise ImproperlyConfigured(f"{name} must be {allowed}, not {_shown(raw)}.")
    return value


def env_str(name: str, default: str) -> str:
    """A text setting; unset or blank is the default."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return raw


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", False)

# Blank is unset, as for the other settings: a key of spaces is no key.
SECRET_KEY = env_str("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Set it to a long random value in production, "
            "or set DJANGO_DEBUG=true for local development."
        )
    # Development only (DEBUG on): a fixed key so sessions survive a runserver restart.
    SECRET_KEY = "django-insecure-development-only-key"  # noqa: S105  # nosec B105

# HTTPS is on in production; plain-HTTP development and the test live server turn it off.
HTTPS = env_bool("DJANGO_HTTPS", not DEBUG)

ALLOWED_HOSTS = env_list(
    "DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "boundaries",
    "incidents",
    "scripts_library",
    # The admin site, with its sign-in sent through the two-factor flow.
    "boundaries.apps.BoundariesAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "bootstrap",
    "crispy_forms",
    "crispy_bootstrap5",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "pgtrigger",
]

MIDDLEWARE = [
    # First: a load balancer's health check is answered whatever its Host header.
    "boundaries.middleware.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "boundaries.sessions.SessionLimitsMiddleware",
    # After the session limits, so that an expired half-signed-in session ends first.
    "boundaries.access.SecondFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "boundaries.middleware.NoStoreForSignedInMiddleware",
    # Inside everything above, so that the 400 page is drawn for the person as they now
    # stand (session limits and second step applied) with every header of a page.
    "boundaries.middleware.RefuseNulInQueryMiddleware",
    # Last, so that it sees a failed sign-in after the view has run.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "boundaries.urls"
WSGI_APPLICATION = "boundaries.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
                "boundaries.context_processors.navigation",
            ],
        },
    },
]

# Database: SQLite in a git-ignored folder unless DATABASE_URL says otherwise.
DATABASE_URL = env_str("DATABASE_URL", "").strip()
if not DATABASE_URL:
    (BASE_DIR / "var").mkdir(exist_ok=True)
    DATABASE_URL = f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}"
try:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL,
            # Up to a day: 0 closes the connection after each request.
            conn_max_age=env_int("DJANGO_CONN_MAX_AGE", 60, minimum=0, maximum=86_400),
            conn_health_checks=True,
        )
    }
except ValueError as error:
    # Not the address itself: it may carry the database password.
    raise ImproperlyConfigured(
        "DATABASE_URL is not a database address such as "
        f"postgres://user@host:5432/boundaries: {error}"
    ) from None
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # WAL lets readers and one writer work at once; IMMEDIATE avoids
            # "database is locked" when two requests upgrade to writes together.
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "timeout": 20,
        }
    )
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # The monthly report's index carries the severity on PostgreSQL (INCLUDE); SQLite,
    # the demo's database, has no such column in an index and builds it without.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "boundaries.User"
AUTHENTICATION_BACKENDS = [
    # Axes first: it refuses locked-out credentials before the password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
PASSWORD_RESET_TIMEOUT = 60 * 60  # one hour

# Sessions: an idle limit (default 30 minutes) and an absolute limit (default 12 hours,
# a long shift). SessionLimitsMiddleware enforces both on the server. Neither may be
# zero (signed out at once) or longer than a week.
SESSION_IDLE_TIMEOUT = timedelta(
    minutes=env_int("SESSION_IDLE_MINUTES", 30, minimum=1, maximum=7 * 24 * 60)
)
SESSION_ABSOLUTE_TIMEOUT = timedelta(
    hours=env_int("SESSION_ABSOLUTE_HOURS", 12, minimum=1, maximum=7 * 24)
)
SESSION_COOKIE_AGE = int(SESSION_ABSOLUTE_TIMEOUT.total_seconds())
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# A refused form gets the app's page, saying what to do next.
CSRF_FAILURE_VIEW = "boundaries.views.csrf_failure"
# Readable by the page script, which refreshes its token after a sign-in in another tab
# (Django rotates it); HttpOnly adds nothing for the CSRF cookie (Django docs).
CSRF_COOKIE_HTTPONLY = False
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
if HTTPS:
    # The __Host- prefix binds the cookie to this exact host, over HTTPS, for path /.
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"

# Two-factor sign-in (django-otp): codes from an authenticator app, and single-use
# backup codes. Wrong codes slow down: each failure doubles the wait (1 s, 2 s, 4 s...).
OTP_TOTP_ISSUER = env_str("OTP_ISSUER", "Boundaries")
OTP_TOTP_THROTTLE_FACTOR = 1
OTP_STATIC_THROTTLE_FACTOR = 1
# The admin site never shows a person's secret key or QR code.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# Sign-in lockout (django-axes): keyed on username and address together, so one person's
# typos lock only that username from that computer, never the rest of the ward.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# Zero would lock everyone out, a cool-off of zero or less would never lock anyone out;
# a limit in the thousands would be no lockout either.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1, maximum=100)
AXES_COOLOFF_TIME = timedelta(
    minutes=env_int("LOGIN_COOLOFF_MINUTES", 15, minimum=1, maximum=24 * 60)
)
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# No second, unpurged record of every sign-in with its browser and address: the audit
# trail already records sign-ins. The attempts that count towards a lockout stay, and are
# removed once the cool-off has passed; what they keep of the form leaves out the
# password (always), the change-password form's passwords (it checks the current one
# through the same lockout), two-factor codes and the CSRF token.
AXES_DISABLE_ACCESS_LOG = True
AXES_SENSITIVE_PARAMETERS = [
    "username",
    "ip_address",
    "csrfmiddlewaretoken",
    "old_password",
    "new_password1",
    "new_password2",
    "otp_token",
    "token",
]
# One definition of "the client's address", shared with the audit trail.
AXES_CLIENT_IP_CALLABLE = "boundaries.network.client_address"
# How many reverse proxies in front of the app append to X-Forwarded-For (0: none, and
# the header is ignored, so a client cannot choose its own address).
PROXY_COUNT = env_int("DJANGO_PROXY_COUNT", 0, minimum=0, maximum=10)

# Security headers.
SECURE_SSL_REDIRECT = HTTPS
if env_bool("DJANGO_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = 31_536_000 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# Internationalisation and time.
LANGUAGE_CODE = "en-gb"
# Empty is the default, as for the other settings. A name the time zone database does
# not hold stops the app here: Django's own check lets a folder of it ("Europe") through,
# and the first page that shows a time would fail instead.
TIME_ZONE = env_str("TIME_ZONE", "Europe/London").strip()
try:
    zoneinfo.ZoneInfo(TIME_ZONE)
except (ValueError, KeyError, OSError):
    raise ImproperlyConfigured(
        "TIME_ZONE must be the name of a time zone such as Europe/London, "
        f"not {_shown(TIME_ZONE)}."
    ) from None
USE_I18N = True
USE_TZ = True

# Static files: the project's own under static/, Bootstrap from its installed package.
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if env_bool("DJANGO_MANIFEST_STATIC", not DEBUG)
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Tests and development serve files straight from the finders.
WHITENOISE_USE_FINDERS = env_bool("DJANGO_STATIC_FROM_FINDERS", DEBUG)
# Look files up per request there instead of indexing them all at start-up: every test
# client builds the middleware afresh, and the index took most of a tenth of a second.
WHITENOISE_AUTOREFRESH = WHITENOISE_USE_FINDERS

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Email: SMTP when EMAIL_HOST is set, the console in development.
_email_host = env_str("EMAIL_HOST", "").strip()
# Read whether or not they are used here, so that a mistake shows in development too.
_email_port = env_int("EMAIL_PORT", 587, minimum=1, maximum=65_535)
_email_use_tls = env_bool("EMAIL_USE_TLS", True)
if _email_host or not DEBUG:
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": _email_host or "localhost",
                "port": _email_port,
                "username": env_str("EMAIL_HOST_USER", ""),
                "password": env_str("EMAIL_HOST_PASSWORD", ""),
                "use_tls": _email_use_tls,
                "timeout": 10,
            },
        }
    }
else:
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Boundaries <boundaries@localhost>").strip()


def _sender_ok(value: str) -> bool:
    """Whether Django's SMTP backend takes ``value`` as the sender: parsed as its
    ``prep_address`` parses it, one address with a domain and no defect (email.utils'
    parseaddr took the first of two addresses, a line break, an unclosed bracket, or a
    full stop in an unquoted name, each then refused on every email)."""
    try:
        parsed = AddressHeader.value_parser(value)
    except (IndexError, ValueError, HeaderParseError):  # "boundaries@": IndexError
        return False
    mailboxes = parsed.all_mailboxes
    if parsed.all_defects or len(mailboxes) != 1 or not mailboxes[0].domain:
        return False
    domain = mailboxes[0].domain
    try:
        # As Django sends an international domain.
        return domain.isascii() or bool(domain.encode("idna"))
    except UnicodeError:
        return False


if not _sender_ok(DEFAULT_FROM_EMAIL):
    # Every email would fail, each tried again for two days.
    raise ImproperlyConfigured(
        "DEFAULT_FROM_EMAIL must be one email address such as "
        "Boundaries <boundaries@example.org> (a name with a comma or a full stop in "
        f'double quotes: "Boundaries, St. Elsewhere" <...>), not {_shown(DEFAULT_FROM_EMAIL)}.'
    )
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# The address people follow from an email back to the app.
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").strip().rstrip("/")


def _site_address_ok(url: str) -> bool:
    try:
        site = urlsplit(url)
        site.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:  # "http://[host": an unclosed IPv6 bracket
        return False
    return (
        site.scheme in {"http", "https"}
        and bool(site.hostname)
        and not any(c.isspace() for c in url)
        # Each link is this address with a path after it: a query or a fragment would
        # swallow the path, and a user name or password would be in every email.
        and "?" not in url
        and "#" not in url
        and "@" not in site.netloc
        # The app is served at the root of its own host name: under a path, links built
        # in a request would carry it twice and the password reset's not at all.
        and site.path in {"", "/"}
    )


if not _site_address_ok(SITE_URL):
    raise ImproperlyConfigured(
        "SITE_URL must be the address people open the app at, a host name of its own "
        "with no path, such as https://boundaries.example.org, not "
        # Not shown when it may hold a password, as for DATABASE_URL.
        f"{'one with a user name in it' if '@' in SITE_URL else _shown(SITE_URL)}."
    )

# Logging: one JSON object per line on stderr; no request bodies, no patient data.
# The five levels the README names; the logging module also knows NOTSET (which logs
# everything, like DEBUG) and the aliases WARN and FATAL.
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_log_level = os.environ.get("DJANGO_LOG_LEVEL", "").strip().upper() or "INFO"
if _log_level not in _LOG_LEVELS:
    raise ImproperlyConfigured(
        "DJANGO_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, "
        f"not {_shown(os.environ['DJANGO_LOG_LEVEL'])}."
    )
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "boundaries.log_format.JsonFormatter"}},
    "handlers": {
        "stderr": {"class": "logging.StreamHandler", "formatter": "json"},
        "discard": {"class": "logging.NullHandler"},
    },
    "root": {"handlers": ["stderr"], "level": _log_level},
    "loggers": {
        # Django logs the full path of 4xx requests; paths carry only opaque ids here,
        # but the body of a disallowed-host error is attacker-controlled. Discarded by a
        # handler: a logger with none falls back to Python's plain-text "last resort".
        "django.security.DisallowedHost": {"handlers": ["discard"], "propagate": False},
        # WeasyPrint narrates every layout step at INFO.
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}

# Product settings.
# In either case, as the log level.
_patient_ref_scheme = env_str("PATIENT_REF_SCHEME", "nhs").strip().lower()
if _patient_ref_scheme not in {"nhs", "hospital"}:
    raise ImproperlyConfigured(
        "PATIENT_REF_SCHEME must be nhs or hospital, not "
        f"{_shown(os.environ['PATIENT_REF_SCHEME'])}."
    )
_patient_ref_pattern = env_str("PATIENT_REF_PATTERN", r"[A-Z]{0,3}[0-9]{5,10}")
try:
    re.compile(_patient_ref_pattern)
except re.error as error:
    raise ImproperlyConfigured(
        f"PATIENT_REF_PATTERN is not a regular expression: {error}."
    ) from None
BOUNDARIES = {
    "ORGANISATION_NAME": env_str("ORGANISATION_NAME", "Boundaries demo trust"),
    "EMAIL_RELAY_CONFIGURED": bool(_email_host),
    # How patients are identified: "nhs" (NHS number with its check digit) or "hospital"
    # (a local number that matches PATIENT_REF_PATTERN once spaces and hyphens are gone).
    "PATIENT_REF_SCHEME": _patient_ref_scheme,
    "PATIENT_REF_PATTERN": _patient_ref_pattern,
    "PATIENT_REF_EXAMPLE": env_str("PATIENT_REF_EXAMPLE", "for example RX123456"),
    # Review targets: a supervisor reviews an incident within this many days (at least
    # one: zero would make every incident overdue when filed; at most a year).
    "REVIEW_TARGET_DAYS": env_int("REVIEW_TARGET_DAYS", 3, minimum=1, maximum=365),
    "REVIEW_TARGET_DAYS_HIGH": env_int("REVIEW_TARGET_DAYS_HIGH", 1, minimum=1, maximum=365),
    # An incident older than this needs a reason for the late report (at most ten years).
    "LATE_REPORT_DAYS": env_int("LATE_REPORT_DAYS", 30, minimum=1, maximum=3650),
    # Supervisors, managers and administrators always sign in with a second factor;
    # reporters only when this is on (or when they have chosen to set one up).
    "OTP_REQUIRED_FOR_REPORTERS": env_bool("OTP_REQUIRED_FOR_REPORTERS", False),
    "EAP_CONTACT": env_str(
        "EAP_CONTACT",
        "Employee Assistance Programme: free and confidential, 24 hours a day. "
        "Ask your supervisor or the staff intranet for the number.",
    ),
    # Retention (manage.py purge_expired; docs/security.md says why these defaults): an
    # incident is deleted this many years after its last activity (filing, review,
    # feedback, addendum, closing), 8 by default as for adult health records in the NHS
    # Records Management Code; a draft never filed, this many days after its last change.
    # At least 1: zero would make the next purge delete every record. No upper bound: a
    # period reaching past year 1 keeps everything (incidents/retention.py).
    "RETENTION_YEARS": env_int("RETENTION_YEARS", 8, minimum=1),
    "DRAFT_RETENTION_DAYS": env_int("DRAFT_RETENTION_DAYS", 30, minimum=1),
}
