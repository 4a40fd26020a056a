"""Wharfinger as a registry client: clients that authenticate with self-minted tokens."""

from __future__ import annotations

import logging
import os
import threading

from app.models import Registry
from app.registry import manifests
from app.registry.client import RegistryClient, RegistryError
from app.services.system import SYSTEM_USER_AGENT

log = logging.getLogger(__name__)
_SHARED_LOCK = threading.Lock()


def client_for(registry: Registry, config, token_issuer, **options) -> RegistryClient:
    """A client for ``registry`` whose tokens Wharfinger mints for itself.

    TLS is verified against WHARFINGER_REGISTRY_CA_BUNDLE when set, else the system CAs.
    """
    service = registry.hostname

    def tokens(scopes: list[str]) -> str:
        return token_issuer.system_token(service, scopes)

    return RegistryClient(
        registry.base_url,
        tokens,
        verify=config.get("REGISTRY_CA_BUNDLE") or True,
        user_agent=SYSTEM_USER_AGENT,
        **options,
    )


def describe_manifest(
    client: RegistryClient, repository: str, digest: str, media_type: str | None = None
) -> manifests.ManifestSummary:
    """The manifest's details, with an image's platform from its config blob; a summary
    with only ``media_type`` and the ``problem`` when the registry cannot be read."""
    try:
        ref, body = client.get_manifest(repository, digest)
        summary = manifests.summarize(ref.media_type, body)
        if summary.config_digest and not summary.is_index:
            config = client.get_blob(repository, summary.config_digest)
            summary = manifests.summarize(ref.media_type, body, config)
        return summary
    except RegistryError as exc:
        return manifests.ManifestSummary(media_type=media_type, problem=str(exc))


class ManifestFetcher:
    """Reads pushed manifests for their details (media type, size, platforms); best effort.

    A failure is logged and gives a summary with only the media type: the event is still
    applied, and reconciliation fills the details in later.
    """

    def __init__(self, config, token_issuer):
        self.config = config
        self.token_issuer = token_issuer
        self.pid = os.getpid()
        self._clients: dict[tuple[int, str], RegistryClient] = {}
        self._lock = threading.Lock()

    @classmethod
    def for_app(cls, app) -> ManifestFetcher:
        """This process's fetcher for the app, kept between jobs: its clients keep their
        TLS connections and cached tokens (a new client per event cost a TLS handshake and
        a token signature every time)."""
        with _SHARED_LOCK:
            fetcher = app.extensions.get("wharfinger.manifests")
            if fetcher is None or fetcher.pid != os.getpid():
                fetcher = cls(app.config, app.extensions["wharfinger.tokens"])
                app.extensions["wharfinger.manifests"] = fetcher
            return fetcher

    def _client(self, registry: Registry) -> RegistryClient:
        """One thread-safe client (and connection pool) per registry and hostname."""
        key = (registry.id, registry.base_url)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = client_for(registry, self.config, self.token_issuer)
            return self._clients[key]

    def describe(
        self, registry: Registry, repository: str, digest: str, media_type: str | None
    ) -> manifests.ManifestSummary:
        """Summary of the manifest ``repository@digest`` (with the platform of an image)."""
        summary = describe_manifest(self._client(registry), repository, digest, media_type)
        if summary.problem:
            log.warning(
                "cannot read manifest %s@%s from %s: %s",
                repository,
                digest,
                registry.hostname,
                summary.problem,
            )
        return summary

    def close(self) -> None:
        """Close every client's connections."""
        for client in self._clients.values():
            client.close()
        self._clients.clear()
