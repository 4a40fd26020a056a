"""Wharfinger as a registry client: clients that authenticate with self-minted tokens."""

from __future__ import annotations

import logging

from app.models import Registry
from app.registry import manifests
from app.registry.client import RegistryClient, RegistryError
from app.services.system import SYSTEM_USER_AGENT

log = logging.getLogger(__name__)


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


class ManifestFetcher:
    """Reads pushed manifests for their details (media type, size, platforms); best effort.

    A failure is logged and gives a summary with only the media type: the event is still
    applied, and reconciliation fills the details in later.
    """

    def __init__(self, config, token_issuer):
        self.config = config
        self.token_issuer = token_issuer
        self._clients: dict[int, RegistryClient] = {}

    @classmethod
    def for_app(cls, app) -> ManifestFetcher:
        """A fetcher using the app's settings and token issuer."""
        return cls(app.config, app.extensions["wharfinger.tokens"])

    def _client(self, registry: Registry) -> RegistryClient:
        """One client (and connection pool) per registry for this fetcher's lifetime."""
        if registry.id not in self._clients:
            self._clients[registry.id] = client_for(registry, self.config, self.token_issuer)
        return self._clients[registry.id]

    def describe(
        self, registry: Registry, repository: str, digest: str, media_type: str | None
    ) -> manifests.ManifestSummary:
        """Summary of the manifest ``repository@digest`` (with the platform of an image)."""
        try:
            client = self._client(registry)
            ref, body = client.get_manifest(repository, digest)
            summary = manifests.summarize(ref.media_type, body)
            if summary.config_digest and not summary.is_index:
                config = client.get_blob(repository, summary.config_digest)
                summary = manifests.summarize(ref.media_type, body, config)
            return summary
        except RegistryError as exc:
            log.warning(
                "cannot read manifest %s@%s from %s: %s", repository, digest, registry.hostname, exc
            )
            return manifests.ManifestSummary(media_type=media_type, problem=str(exc))

    def close(self) -> None:
        """Close every client's connections."""
        for client in self._clients.values():
            client.close()
        self._clients.clear()
