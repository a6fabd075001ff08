"""ctx.http against a local werkzeug server: redirects, size cap, time budget, and the private-address guard.

The guard tests prove a refused address is refused before any connection: a Python audit hook
sees every ``socket.connect`` of the process, and none goes to a refused address.
"""

from __future__ import annotations

import gzip
import json
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

from tests.servers import LocalWSGIServer
from tickwork.context.http import AddressRefused, HttpClient, HttpError, refusal_reason, resolve

# --- observing connections ---------------------------------------------------------------------------

_connects: list[str] = []
_connects_lock = threading.Lock()


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "socket.connect":
        address = args[1]
        host = address[0] if isinstance(address, tuple) else str(address)
        with _connects_lock:
            _connects.append(str(host))


sys.addaudithook(_audit)  # audit hooks cannot be removed; this one only appends to a list


@pytest.fixture
def connects() -> Iterator[list[str]]:
    """Hosts of the socket connections made during the test (any thread)."""
    with _connects_lock:
        _connects.clear()
    yield _connects


# --- the server ------------------------------------------------------------------------------------


class WebServer(LocalWSGIServer):
    """A small site: JSON, echo, big and slow bodies, redirects and statuses."""

    name = "web"

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def wsgi_app(self, environ: Any, start_response: Any) -> Any:
        request = Request(environ)
        with self._lock:
            self.requests.append({"method": request.method, "path": request.path})
        return self.route(request)(environ, start_response)

    def route(self, request: Request) -> Response:
        path, args = request.path, request.args
        if path == "/json":
            return Response(json.dumps({"orders": 3}), mimetype="application/json")
        if path == "/echo":
            payload = {
                "method": request.method,
                "args": args.to_dict(),
                "headers": {name.lower(): value for name, value in request.headers.items()},
                "body": request.get_data(as_text=True),
            }
            return Response(json.dumps(payload), mimetype="application/json")
        if path == "/big":
            return Response(b"x" * int(args["n"]), mimetype="application/octet-stream")
        if path == "/chunked":
            size = int(args["n"])
            return Response((b"y" * 1000 for _ in range(size // 1000)), mimetype="application/octet-stream")
        if path == "/gzip":
            body = gzip.compress(b"z" * int(args["n"]))
            return Response(body, headers={"Content-Encoding": "gzip"}, mimetype="text/plain")
        if path == "/slow":
            time.sleep(float(args["delay"]))
            return Response("late")
        if path == "/drip":

            def drip() -> Iterator[bytes]:
                for _ in range(int(args["chunks"])):
                    time.sleep(0.1)
                    yield b"."

            return Response(drip(), mimetype="text/plain")
        if path == "/redirect":
            response = Response("", status=int(args.get("code", 302)))
            response.headers["Location"] = args["to"]
            return response
        if path == "/loop":
            response = Response("", status=302)
            response.headers["Location"] = "/loop"
            return response
        if path.startswith("/status/"):
            return Response(f"Not here: {path}\n  try /json", status=int(path.rsplit("/", 1)[1]))
        if path == "/latin1":
            return Response(
                "café".encode("latin-1"), headers={"Content-Type": "text/plain; charset=ISO-8859-1"}
            )
        if path == "/not-json":
            return Response("<html>oops</html>", mimetype="text/html")
        return Response("no such page", status=404)


@pytest.fixture
def web() -> Iterator[WebServer]:
    with WebServer() as server:
        yield server


@pytest.fixture
def http() -> Iterator[HttpClient]:
    """A client that may reach the loopback server (as HTTP_ALLOW_PRIVATE does in development)."""
    with HttpClient(allow_private=True, timeout=5) as client:
        yield client


# --- requests --------------------------------------------------------------------------------------


def test_get_returns_status_headers_body_and_json(web: WebServer, http: HttpClient) -> None:
    response = http.get(f"{web.url}/json")

    assert response.status_code == 200 and response.ok
    assert response.headers["Content-Type"] == "application/json"
    assert response.content == b'{"orders": 3}'
    assert response.json() == {"orders": 3}
    assert response.url == f"{web.url}/json"
    assert response.raise_for_status() is response


def test_params_headers_and_json_body_are_sent(web: WebServer, http: HttpClient) -> None:
    got = http.get(f"{web.url}/echo", params={"day": "2026-11-22"}, headers={"X-Shop": "acme"}).json()
    posted = http.post(f"{web.url}/echo", json={"orders": [1, 2]}).json()
    form = http.post(f"{web.url}/echo", data={"a": "1", "b": "two"}).json()
    raw = http.request("PUT", f"{web.url}/echo", data="plain text").json()

    assert got["args"] == {"day": "2026-11-22"} and got["headers"]["x-shop"] == "acme"
    assert got["headers"]["user-agent"].startswith("Tickwork-Job/")
    assert (posted["method"], json.loads(posted["body"])) == ("POST", {"orders": [1, 2]})
    assert posted["headers"]["content-type"] == "application/json"
    assert (form["body"], form["headers"]["content-type"]) == (
        "a=1&b=two",
        "application/x-www-form-urlencoded",
    )
    assert (raw["method"], raw["body"]) == ("PUT", "plain text")


def test_text_uses_the_declared_charset(web: WebServer, http: HttpClient) -> None:
    assert http.get(f"{web.url}/latin1").text == "café"


def test_an_error_status_is_returned_and_raise_for_status_reports_it(
    web: WebServer, http: HttpClient
) -> None:
    missing = http.get(f"{web.url}/status/404")
    down = http.get(f"{web.url}/status/503")

    assert (missing.status_code, missing.ok) == (404, False)
    with pytest.raises(HttpError) as raised:
        missing.raise_for_status()
    assert raised.value.status == 404 and raised.value.permanent
    assert str(raised.value) == f"HTTP 404 from {web.url}/status/404: Not here: /status/404 try /json"
    with pytest.raises(HttpError) as retryable:
        down.raise_for_status()
    assert retryable.value.status == 503 and not retryable.value.permanent


def test_a_body_that_is_not_json_says_so(web: WebServer, http: HttpClient) -> None:
    response = http.get(f"{web.url}/not-json")

    with pytest.raises(HttpError, match="is not JSON") as raised:
        response.json()
    assert "<html>oops</html>" in str(raised.value)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://example.com/file", "only http:// and https://"),
        ("file:///etc/passwd", "only http:// and https://"),
        ("example.com/path", "only http:// and https://"),
        ("http:///path", "only http:// and https://"),
    ],
)
def test_only_http_urls_are_requested(http: HttpClient, connects: list[str], url: str, problem: str) -> None:
    with pytest.raises(HttpError, match=problem) as raised:
        http.get(url)
    assert raised.value.permanent
    assert connects == []


def test_an_unknown_method_is_refused(web: WebServer, http: HttpClient) -> None:
    with pytest.raises(HttpError, match="unsupported HTTP method 'BREW'"):
        http.request("BREW", f"{web.url}/json")
    assert web.requests == []


# --- redirects -------------------------------------------------------------------------------------


def test_redirects_are_followed_to_the_final_url(web: WebServer, http: HttpClient) -> None:
    response = http.get(f"{web.url}/redirect", params={"to": "/redirect?to=/json&code=301"})

    assert response.json() == {"orders": 3}
    assert response.url == f"{web.url}/json"
    assert [r["path"] for r in web.requests] == ["/redirect", "/redirect", "/json"]


def test_a_303_turns_a_post_into_a_get_and_a_307_keeps_it(web: WebServer, http: HttpClient) -> None:
    see_other = http.post(f"{web.url}/redirect?code=303&to=/echo", json={"a": 1}).json()
    temporary = http.post(f"{web.url}/redirect?code=307&to=/echo", json={"a": 1}).json()

    assert (see_other["method"], see_other["body"]) == ("GET", "")
    assert (temporary["method"], json.loads(temporary["body"])) == ("POST", {"a": 1})


def test_credentials_do_not_follow_a_redirect_to_another_origin(web: WebServer, http: HttpClient) -> None:
    headers = {"Authorization": "Bearer shop-token", "X-Shop": "acme"}
    same = http.get(f"{web.url}/redirect?to=/echo", headers=headers).json()
    other = http.get(f"{web.url}/redirect?to=http://localhost:{web.port}/echo", headers=headers).json()

    assert same["headers"]["authorization"] == "Bearer shop-token"
    assert "authorization" not in other["headers"] and other["headers"]["x-shop"] == "acme"


def test_more_than_five_redirects_is_an_error(web: WebServer, http: HttpClient) -> None:
    with pytest.raises(HttpError, match="more than 5 redirects") as raised:
        http.get(f"{web.url}/loop")

    assert raised.value.permanent
    assert len(web.requests) == 6


# --- size cap and time budget ------------------------------------------------------------------------


def test_a_body_at_the_cap_is_read_and_one_byte_more_is_refused(web: WebServer) -> None:
    with HttpClient(allow_private=True, max_bytes=1000) as http:
        assert len(http.get(f"{web.url}/big?n=1000").content) == 1000
        with pytest.raises(HttpError, match="larger than the 1,000-byte limit") as raised:
            http.get(f"{web.url}/big?n=1001")
    assert raised.value.permanent and "1,001 bytes declared" in str(raised.value)


def test_a_body_without_a_length_is_cut_off_once_it_passes_the_cap(web: WebServer) -> None:
    with HttpClient(allow_private=True, max_bytes=10_000) as http:
        with pytest.raises(HttpError, match="larger than the 10,000-byte limit"):
            http.get(f"{web.url}/chunked?n=1000000")


def test_the_cap_applies_to_the_decompressed_body(web: WebServer) -> None:
    with HttpClient(allow_private=True, max_bytes=10_000) as http:
        assert http.get(f"{web.url}/gzip?n=10000").text == "z" * 10_000
        with pytest.raises(HttpError, match="larger than"):
            http.get(f"{web.url}/gzip?n=1000000")  # about 1 KB on the wire


def test_a_server_that_does_not_answer_in_time_is_a_timeout(web: WebServer) -> None:
    with HttpClient(allow_private=True, timeout=0.15) as http:
        started = time.monotonic()
        with pytest.raises(HttpError) as raised:
            http.get(f"{web.url}/slow?delay=0.5")
    assert raised.value.timeout and not raised.value.permanent
    assert time.monotonic() - started < 0.45


def test_a_per_request_timeout_overrides_the_client_default(web: WebServer, http: HttpClient) -> None:
    with pytest.raises(HttpError) as raised:
        http.get(f"{web.url}/slow?delay=0.5", timeout=0.15)
    assert raised.value.timeout


def test_a_body_trickling_in_past_the_budget_is_a_timeout(web: WebServer) -> None:
    with HttpClient(allow_private=True, timeout=0.35) as http:
        with pytest.raises(HttpError, match="timed out") as raised:
            http.get(f"{web.url}/drip?chunks=8")  # each read is quick; the whole takes 0.8 s
    assert raised.value.timeout


def test_a_closed_port_is_a_retryable_connection_error(http: HttpClient) -> None:
    with WebServer() as stopped:
        url = f"{stopped.url}/json"
    with pytest.raises(HttpError, match="could not connect") as raised:
        http.get(url)
    assert not raised.value.permanent and not raised.value.timeout


# --- private addresses -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("[::1]", "loopback"),
        ("localhost", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("[fe80::1]", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "non-public"),
        ("[::ffff:127.0.0.1]", "loopback"),
        ("[fd00::1]", "private"),
    ],
)
def test_private_addresses_are_refused_before_any_connection(
    web: WebServer, connects: list[str], host: str, reason: str
) -> None:
    with HttpClient() as http:
        with pytest.raises(AddressRefused) as raised:
            http.get(f"http://{host}:{web.port}/json")

    assert f"a {reason} address" in str(raised.value) and raised.value.permanent
    assert connects == []
    assert web.requests == []


def test_a_redirect_to_a_private_address_is_refused(web: WebServer, connects: list[str]) -> None:
    # Only the test server's own address is exempt: it stands in for a public site here.
    with HttpClient(allowed_networks=["127.0.0.1/32"]) as http:
        assert http.get(f"{web.url}/json").json() == {"orders": 3}
        for target in (
            f"http://127.0.0.2:{web.port}/json",
            f"http://[::1]:{web.port}/json",
            "http://10.1.2.3/admin",
            "http://169.254.169.254/latest/meta-data/",
        ):
            with pytest.raises(AddressRefused):
                http.get(f"{web.url}/redirect", params={"to": target})

    assert set(connects) == {"127.0.0.1"}
    assert [r["path"] for r in web.requests] == ["/json"] + ["/redirect"] * 4


def test_public_addresses_pass_and_wrapped_private_ones_do_not() -> None:
    [google_dns] = resolve("8.8.8.8", 53)  # an IP literal resolves without DNS
    assert refusal_reason(google_dns) is None
    [mapped] = resolve("::ffff:8.8.4.4", 53)
    assert refusal_reason(mapped) is None  # judged as 8.8.4.4
    [six_to_four] = resolve("2002:0a00:0001::", 80)  # 6to4 wrapping 10.0.0.1
    assert refusal_reason(six_to_four) == "private"


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"timeout": 0}, "timeout must be more than 0"),
        ({"timeout": 301}, "at most 300 seconds"),
        ({"max_bytes": 0}, "max_bytes must be a whole number"),
    ],
)
def test_bad_client_options_are_refused(options: dict[str, Any], problem: str) -> None:
    with pytest.raises(HttpError, match=problem):
        HttpClient(**options)
