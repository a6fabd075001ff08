"""Twilio's official REST client, optionally pointed at another base URL.

twilio-python has no base-URL option; its seam is the ``http_client`` argument of
``twilio.rest.Client``. ``RebasedHttpClient`` is that seam: it rewrites every
``https://*.twilio.com`` URL onto a configured base URL (TWILIO_BASE_URL, used by tests and
staging) and leaves the rest (auth, form encoding, error parsing) to twilio's own code.
"""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit, urlunsplit

from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from tickwork.errors import ConfigError

# Seconds allowed for connecting and for each read of one Twilio API call. A job has at most
# 300 s in all, so a stalled Twilio must fail the send quickly rather than eat the budget.
# Sends are not retried here: a send whose response was lost may have gone out already.
TWILIO_TIMEOUT_SECONDS = 10.0

# Hosts a proxy from the environment (HTTPS_PROXY and friends) could never reach for us.
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def _parse_base_url(base_url: str) -> SplitResult:
    """Check ``base_url`` once, when the client is built, and keep its parts."""
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"the Twilio base URL must look like http(s)://host[:port]; got {base_url!r}")
    if parts.query or parts.fragment:
        raise ConfigError(f"the Twilio base URL must not have a query or fragment; got {base_url!r}")
    return parts


def is_twilio_url(url: str) -> bool:
    """Whether ``url`` is one of Twilio's HTTPS API hosts (api.twilio.com, messaging.twilio.com, ...)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return parts.scheme == "https" and (host == "twilio.com" or host.endswith(".twilio.com"))


class RebasedHttpClient(TwilioHttpClient):
    """A ``TwilioHttpClient`` that sends requests meant for Twilio's hosts to ``base_url`` instead.

    The path and query are kept, so ``https://api.twilio.com/2010-04-01/Accounts/AC.../Messages.json``
    becomes ``http://127.0.0.1:PORT/2010-04-01/Accounts/AC.../Messages.json``. URLs of other hosts
    (there are none in the calls we make) pass through unchanged.
    """

    def __init__(self, base_url: str, *, timeout: float = TWILIO_TIMEOUT_SECONDS) -> None:
        super().__init__(timeout=timeout)
        self.base = _parse_base_url(base_url)
        if self.base.hostname in _LOOPBACK_HOSTS and self.session is not None:
            self.session.trust_env = False  # an environment proxy would send loopback traffic away

    def rebase(self, url: str) -> str:
        """The URL to request in place of ``url``."""
        if not is_twilio_url(url):
            return url
        parts = urlsplit(url)
        path = self.base.path.rstrip("/") + parts.path
        return urlunsplit((self.base.scheme, self.base.netloc, path, parts.query, ""))

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        """Send the request twilio built, to the rebased URL."""
        return super().request(
            method,
            self.rebase(url),
            params=params,
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout,
            allow_redirects=allow_redirects,
        )


def make_twilio_client(
    account_sid: str,
    auth_token: str,
    base_url: str | None = None,
    *,
    timeout: float = TWILIO_TIMEOUT_SECONDS,
) -> Client:
    """An official ``twilio.rest.Client`` with timeouts, talking to ``base_url`` when one is given.

    Call ``close_twilio_client`` when done: requests keeps the connections of its pool open.
    """
    if base_url is None:
        http_client = TwilioHttpClient(timeout=timeout)
    else:
        http_client = RebasedHttpClient(base_url, timeout=timeout)
    return Client(account_sid, auth_token, http_client=http_client)


def close_twilio_client(client: Client) -> None:
    """Close the pooled connections of a client built by ``make_twilio_client``."""
    http_client = client.http_client
    session = getattr(http_client, "session", None)
    if session is not None:
        session.close()
