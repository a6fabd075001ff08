"""``tickwork web``: the admin panel and the JSON API."""

from __future__ import annotations

import click

from tickwork.errors import TickworkError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


@click.command()
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Address to listen on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(1, 65535))
def web(host: str, port: int) -> None:
    """Serve the admin panel and the API (production runs gunicorn "tickwork.web:create_app()")."""
    from werkzeug.serving import make_server

    from tickwork.web import create_app

    try:
        server = make_server(host, port, create_app(), threaded=True)
    except OSError as error:
        raise TickworkError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    click.echo(f"Tickwork web on http://{host}:{port} (API under /api/v1, metrics at /metrics)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
