# One image for every Tickwork role (web, spawner, worker, migrate); the command picks the role.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TICKWORK_HOME=/var/lib/tickwork \
    APPS_DIR=/srv/apps \
    TICKWORK_RATES=/etc/tickwork/rates.toml

WORKDIR /src
COPY pyproject.toml README.md ./
COPY platform ./platform
COPY billing ./billing
# The [production] extra brings gunicorn for the web role.
RUN pip install --no-cache-dir ".[production]" \
    && useradd --system --home-dir /var/lib/tickwork --create-home tickwork
# The shipped catalog: a pristine copy the migrate service copies over the apps volume on each
# deploy, and the same bundles at APPS_DIR (they seed the named volume when it is created).
COPY apps /usr/share/tickwork/apps
COPY --chown=tickwork:tickwork apps /srv/apps
COPY config /etc/tickwork

USER tickwork
WORKDIR /var/lib/tickwork
ENTRYPOINT ["tickwork"]
