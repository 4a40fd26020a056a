# Wharfinger: slim Python 3.11 image, non-root, gunicorn with TLS on 8443.
#
#   docker build -t wharfinger:0.1.0 .
#   docker run -p 443:8443 -v wharfinger-data:/var/lib/wharfinger -e WHARFINGER_FQDN=... wharfinger:0.1.0
#
# The entry point runs `wharfinger init` (idempotent) before `serve`; any other arguments
# are a wharfinger subcommand (`worker`, `user create ...`, `doctor`). docker-compose.yml
# runs the whole walkthrough (MariaDB, Redis, registry); see docs/deployment.md.
FROM python:3.11-slim-bookworm

# The source tree stays in /opt/wharfinger and is installed in editable mode, so app/ and
# migrations/ sit side by side as app/__init__.py expects (MIGRATIONS_DIR).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    WHARFINGER_INSTANCE_PATH=/var/lib/wharfinger

# A fixed uid/gid so volume ownership is predictable; named volumes mounted on these
# folders start out owned by this user. /shared is for docker-compose.yml.
RUN groupadd --system --gid 10001 wharfinger \
 && useradd --system --uid 10001 --gid wharfinger --home-dir /var/lib/wharfinger \
      --no-create-home --shell /usr/sbin/nologin wharfinger \
 && install -d -o wharfinger -g wharfinger -m 0750 /var/lib/wharfinger \
 && install -d -o wharfinger -g wharfinger -m 0755 /shared

WORKDIR /opt/wharfinger

# Dependencies first, so that a code change does not reinstall them: install the project
# with a placeholder package (editable: the installed finder points at /opt/wharfinger/app,
# which the real code then replaces).
COPY setup.cfg pyproject.toml README.md ./
RUN mkdir app && touch app/__init__.py \
 && pip install -e . \
 && rm -rf app

COPY app ./app
COPY migrations ./migrations
COPY wsgi.py worker.py ./
COPY deploy ./deploy
RUN chmod 0755 deploy/docker-entrypoint.sh deploy/compose-init.sh \
 && python -m compileall -q app migrations worker.py wsgi.py \
 && python -c "import app.cli, worker"

USER wharfinger
VOLUME ["/var/lib/wharfinger"]
EXPOSE 8443
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "/opt/wharfinger/deploy/healthcheck.py"]
ENTRYPOINT ["/opt/wharfinger/deploy/docker-entrypoint.sh"]
CMD ["serve", "--bind", "0.0.0.0:8443"]
