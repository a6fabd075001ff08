"""``ctx.http``: outbound HTTP for jobs, with a time budget, a size cap and no way into private networks.

Jobs run next to the platform's own services, so a URL a job (or its user) chooses must not
reach them. Every connection goes through ``GuardedBackend``, which resolves the host itself,
refuses the connection when any resolved address is private, loopback, link-local, multicast,
reserved, unspecified or otherwise not public, and then connects to an address it checked: a
DNS answer cannot change between the check and the connection. Redirects are followed here,
at most ``MAX_REDIRECTS``, each hop connecting through the same guard. Environment proxies
are ignored (a proxy would connect on our behalf, past the guard).

Built on httpx2 (the HTTP client the openai package ships with) and its httpcore2 pool.
"""

from __future__ import annotations

import codecs
import contextlib
import ipaddress
import json as jsonlib
import math
import re
import socket
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpcore2
import httpx2

from tickwork.errors import TickworkError

DEFAULT_TIMEOUT_SECONDS = 10.0
MAX_TIMEOUT_SECONDS = 300.0  # a job's own limit
DEFAULT_MAX_BYTES = 5 * 1024 * 1024
MAX_REDIRECTS = 5
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
USER_AGENT = "Tickwork-Job/1.0"
SNIPPET_CHARS = 200
# Headers that must not follow a redirect to another origin.
_CREDENTIAL_HEADERS = ("authorization", "cookie", "proxy-authorization")
_CHARSET = re.compile(r"charset\s*=\s*\"?([^\";\s]+)", re.IGNORECASE)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class HttpError(TickworkError):
    """An HTTP request failed or its response was refused.

    ``status`` is the HTTP status when there was a response, ``timeout`` tells a timeout, and
    ``permanent`` whether repeating the same request could help.
    """

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        status: int | None = None,
        timeout: bool = False,
        permanent: bool = False,
    ) -> None:
        super().__init__(message)
        self.url = url
        self.status = status
        self.timeout = timeout
        self.permanent = permanent


class AddressRefused(HttpError):
    """The URL's host is (or resolves to) an address jobs may not reach."""

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message, url=url, permanent=True)


def refusal_reason(address: IPAddress) -> str | None:
    """Why ``address`` may not be reached from a job (``"loopback"``, ``"private"``, ...), or None.

    An IPv4-mapped IPv6 address is judged as its IPv4 address; 6to4 and NAT64 addresses are
    refused when the IPv4 address they carry would be.
    """
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:  # ::ffff:a.b.c.d is a.b.c.d on a dual-stack socket
            return refusal_reason(address.ipv4_mapped)
        embedded = address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            reason = refusal_reason(embedded)
            if reason is not None:
                return reason
    for kind in ("unspecified", "loopback", "link_local", "multicast", "reserved", "private"):
        if getattr(address, f"is_{kind}"):
            return kind.replace("_", "-")
    if not address.is_global:
        return "non-public"
    return None


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (an IP literal resolves to itself, without DNS)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise HttpError(f"cannot resolve {host!r}: {error}", permanent=False) from error
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise HttpError(f"{host!r} has no address", permanent=False)
    return addresses


class GuardedBackend(httpcore2.SyncBackend):
    """httpcore's socket backend, connecting only to addresses jobs may reach."""

    def __init__(self, *, allow_private: bool, allowed_networks: Iterable[IPNetwork] = ()) -> None:
        self.allow_private = allow_private
        self.allowed_networks = tuple(allowed_networks)

    def check(self, host: str, addresses: list[IPAddress]) -> None:
        """Raise AddressRefused unless every address of ``host`` may be reached."""
        if self.allow_private:
            return
        for address in addresses:
            if any(address in network for network in self.allowed_networks):
                continue
            reason = refusal_reason(address)
            if reason is not None:
                shown = host if host == str(address) else f"{host} ({address})"
                raise AddressRefused(
                    f"refused to connect to {shown}: a {reason} address; "
                    "jobs may only reach public internet hosts"
                )

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.NetworkStream:
        addresses = resolve(host, port)
        self.check(host, addresses)
        failure: httpcore2.ConnectError | None = None
        for address in addresses:
            try:
                return super().connect_tcp(str(address), port, timeout, local_address, socket_options)
            except httpcore2.ConnectError as error:
                failure = error
        assert failure is not None
        raise failure


@contextlib.contextmanager
def _translated(url: str) -> Iterator[None]:
    """httpcore's and httpx's exceptions as HttpError."""
    try:
        yield
    except (httpcore2.TimeoutException, httpx2.TimeoutException) as error:
        raise HttpError(f"timed out talking to {url}", url=url, timeout=True) from error
    except (httpcore2.UnsupportedProtocol, httpx2.UnsupportedProtocol) as error:
        raise HttpError(f"cannot request {url}: {error}", url=url, permanent=True) from error
    except (httpcore2.ConnectError, httpx2.ConnectError) as error:
        raise HttpError(f"could not connect to {url}: {error}", url=url) from error
    except (httpcore2.NetworkError, httpcore2.ProtocolError, httpx2.TransportError) as error:
        raise HttpError(f"the connection to {url} failed: {error}", url=url) from error
    except httpx2.DecodingError as error:
        raise HttpError(
            f"could not decode the response from {url}: {error}", url=url, permanent=True
        ) from error


class _BodyStream(httpx2.SyncByteStream):
    def __init__(self, stream: Iterable[bytes], url: str) -> None:
        self._stream = stream
        self._url = url

    def __iter__(self) -> Iterator[bytes]:
        with _translated(self._url):
            yield from self._stream

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


class GuardedTransport(httpx2.BaseTransport):
    """An httpx transport over an httpcore pool whose every connection goes through ``GuardedBackend``."""

    def __init__(self, backend: GuardedBackend) -> None:
        self._pool = httpcore2.ConnectionPool(
            ssl_context=httpx2.create_ssl_context(),
            network_backend=backend,
            max_connections=10,
            keepalive_expiry=5.0,
        )

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        assert isinstance(request.stream, httpx2.SyncByteStream)
        core_request = httpcore2.Request(
            method=request.method,
            url=httpcore2.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        url = str(request.url)
        with _translated(url):
            response = self._pool.handle_request(core_request)
        assert isinstance(response.stream, Iterable)
        return httpx2.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_BodyStream(response.stream, url),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._pool.close()


@dataclass(frozen=True)
class Response:
    """A complete HTTP response; ``url`` is the final one, after redirects."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes
    url: str

    @property
    def ok(self) -> bool:
        return self.status_code < 400

    @property
    def text(self) -> str:
        """The body decoded with the charset the server declared (UTF-8 otherwise)."""
        encoding = "utf-8"
        match = _CHARSET.search(self.headers.get("content-type", ""))
        if match:
            with contextlib.suppress(LookupError):
                encoding = codecs.lookup(match.group(1)).name
        return self.content.decode(encoding, errors="replace")

    def json(self) -> Any:
        try:
            return jsonlib.loads(self.content)
        except ValueError as error:
            raise HttpError(
                f"the response from {self.url} is not JSON ({error}): {self.text[:SNIPPET_CHARS]!r}",
                url=self.url,
                status=self.status_code,
                permanent=True,
            ) from error

    def raise_for_status(self) -> Response:
        """Raise HttpError (with the status and the start of the body) for a 4xx or 5xx answer."""
        if self.ok:
            return self
        snippet = " ".join(self.text[:SNIPPET_CHARS].split())
        retryable = self.status_code in (408, 425, 429) or self.status_code >= 500
        raise HttpError(
            f"HTTP {self.status_code} from {self.url}: {snippet}",
            url=self.url,
            status=self.status_code,
            permanent=not retryable,
        )


def _seconds(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise HttpError(f"{name} must be a number of seconds; got {value!r}", permanent=True)
    if not 0 < value <= MAX_TIMEOUT_SECONDS:
        raise HttpError(
            f"{name} must be more than 0 and at most {MAX_TIMEOUT_SECONDS:g} seconds", permanent=True
        )
    return float(value)


def _checked_url(url: object) -> httpx2.URL:
    if not isinstance(url, str | httpx2.URL):
        raise HttpError(f"the URL must be a string; got {type(url).__name__}", permanent=True)
    try:
        parsed = httpx2.URL(url)
    except httpx2.InvalidURL as error:
        raise HttpError(f"not a valid URL: {url!r} ({error})", permanent=True) from error
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise HttpError(f"only http:// and https:// URLs can be requested; got {str(url)!r}", permanent=True)
    return parsed


def _same_origin(a: httpx2.URL, b: httpx2.URL) -> bool:
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)


class HttpClient:
    """``ctx.http``: ``get``, ``post`` and ``request`` returning a complete ``Response``.

    ``timeout`` is the budget in seconds for a whole request, redirects and body included.
    ``allow_private`` lifts the address guard (HTTP_ALLOW_PRIVATE, for development);
    ``allowed_networks`` exempts the given CIDR ranges only. Call ``close()`` when the job ends.
    """

    def __init__(
        self,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        max_bytes: int = DEFAULT_MAX_BYTES,
        allow_private: bool = False,
        allowed_networks: Iterable[str] = (),
    ) -> None:
        self.timeout = _seconds(timeout, "timeout")
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
            raise HttpError(f"max_bytes must be a whole number >= 1; got {max_bytes!r}", permanent=True)
        self.max_bytes = max_bytes
        self.backend = GuardedBackend(
            allow_private=allow_private,
            allowed_networks=[ipaddress.ip_network(network) for network in allowed_networks],
        )
        self._client: httpx2.Client | None = None

    def _http(self) -> httpx2.Client:
        if self._client is None:
            self._client = httpx2.Client(
                transport=GuardedTransport(self.backend),
                follow_redirects=False,
                trust_env=False,
                headers={"User-Agent": USER_AGENT},
            )
        return self._client

    def close(self) -> None:
        """Close pooled connections; the client can still be used afterwards (it reconnects)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *_exc_info: object) -> None:
        self.close()

    def get(
        self,
        url: str,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Response:
        return self.request("GET", url, params=params, headers=headers, timeout=timeout)

    def post(
        self,
        url: str,
        json: Any = None,
        data: Mapping[str, Any] | str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Response:
        return self.request("POST", url, json=json, data=data, headers=headers, timeout=timeout)

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | str | bytes | None = None,
        timeout: float | None = None,
    ) -> Response:
        """Send one request, following up to MAX_REDIRECTS redirects, and read the whole body.

        ``json`` sends a JSON body, ``data`` a form (a mapping) or raw text/bytes. Raises
        HttpError for a refused address, a timeout, a body over ``max_bytes``, too many
        redirects or a failed connection; an error status is returned (see ``raise_for_status``).
        """
        verb = method.upper() if isinstance(method, str) else ""
        if verb not in METHODS:
            raise HttpError(
                f"unsupported HTTP method {method!r}; use one of {', '.join(METHODS)}", permanent=True
            )
        if json is not None and data is not None:
            raise HttpError("give json or data, not both", permanent=True)
        budget = self.timeout if timeout is None else _seconds(timeout, "timeout")
        # Durations are measured on the monotonic clock; tickwork.clock is for wall-clock decisions.
        deadline = time.monotonic() + budget
        target = _checked_url(url)
        hop_headers = dict(headers or {})
        body: dict[str, Any] = {}
        if json is not None:
            body["json"] = json
        elif isinstance(data, str | bytes):
            body["content"] = data
        elif data is not None:
            body["data"] = dict(data)

        client = self._http()
        for hop in range(MAX_REDIRECTS + 1):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise HttpError(
                    f"timed out after {budget:g} s requesting {url}", url=str(target), timeout=True
                )
            with _translated(str(target)):
                request = client.build_request(
                    verb,
                    target,
                    params=params if hop == 0 else None,
                    headers=hop_headers,
                    timeout=remaining,
                    **body,
                )
                response = client.send(request, stream=True)
            try:
                location = response.headers.get("location")
                if response.status_code in REDIRECT_STATUSES and location:
                    following = _checked_url(str(request.url.join(location)))
                    if response.status_code == 303 or (response.status_code in (301, 302) and verb == "POST"):
                        verb, body = ("HEAD" if verb == "HEAD" else "GET"), {}
                    if not _same_origin(request.url, following):
                        hop_headers = {
                            k: v for k, v in hop_headers.items() if k.lower() not in _CREDENTIAL_HEADERS
                        }
                    target = following
                    continue
                content = self._read(response, deadline, budget)
                return Response(
                    status_code=response.status_code,
                    headers=httpx2.Headers(response.headers),
                    content=content,
                    url=str(request.url),
                )
            finally:
                response.close()
        raise HttpError(
            f"more than {MAX_REDIRECTS} redirects requesting {url}", url=str(target), permanent=True
        )

    def _read(self, response: httpx2.Response, deadline: float, budget: float) -> bytes:
        """The (decoded) body, stopping once it passes ``max_bytes`` or the deadline."""
        url = str(response.request.url)
        too_large = f"the response from {url} is larger than the {self.max_bytes:,}-byte limit"
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise HttpError(f"{too_large} ({int(declared):,} bytes declared)", url=url, permanent=True)
        chunks: list[bytes] = []
        size = 0
        with _translated(url):
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > self.max_bytes:
                    raise HttpError(too_large, url=url, status=response.status_code, permanent=True)
                if time.monotonic() > deadline:
                    raise HttpError(f"timed out after {budget:g} s reading {url}", url=url, timeout=True)
                chunks.append(chunk)
        return b"".join(chunks)
