# Wharfinger: slim Python image, non-root, gunicorn with TLS.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    WHARFINGER_INSTANCE_PATH=/var/lib/wharfinger

RUN useradd --system --home /var/lib/wharfinger --create-home wharfinger
WORKDIR /opt/wharfinger
COPY setup.cfg pyproject.toml README.md ./
COPY app ./app
COPY migrations ./migrations
COPY wsgi.py worker.py ./
RUN pip install --no-cache-dir -e .

USER wharfinger
EXPOSE 8443
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import ssl,urllib.request; urllib.request.urlopen('https://127.0.0.1:8443/-/live', context=ssl._create_unverified_context())"
ENTRYPOINT ["wharfinger"]
CMD ["serve", "--bind", "0.0.0.0:8443"]
