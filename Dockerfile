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
RUN pip install --no-cache-dir . gunicorn \
    && useradd --system --home-dir /var/lib/tickwork --create-home tickwork
COPY apps /srv/apps
COPY config /etc/tickwork

USER tickwork
WORKDIR /var/lib/tickwork
ENTRYPOINT ["tickwork"]
