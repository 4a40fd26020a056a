"""Render the registry's ``config.yml`` so it matches Wharfinger exactly.

The seed configured realm, service, issuer, rootcertbundle and notifications by hand, and a
mismatch showed up as an unexplained 401. Here every value comes from the same settings the
token server uses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import quote

from app.models import Registry


@dataclass(frozen=True)
class RegistryConfigOptions:
    """Where the registry listens and stores data, and its TLS files (None: plain HTTP)."""

    listen: str
    storage: str
    tls_cert: str | None = None
    tls_key: str | None = None


def _q(value: str) -> str:
    """A YAML scalar, quoted safely (JSON strings are valid YAML)."""
    return json.dumps(str(value))


def render_registry_config(registry: Registry, settings, options: RegistryConfigOptions) -> str:
    """A complete distribution 2.8 ``config.yml`` wired to this Wharfinger."""
    lines = [
        "version: 0.1",
        "log:",
        "  level: info",
        "storage:",
        "  filesystem:",
        f"    rootdirectory: {_q(options.storage)}",
        "  delete:",
        "    enabled: true",
        "  cache:",
        "    blobdescriptor: inmemory",
        "http:",
        f"  addr: {_q(options.listen)}",
        "  headers:",
        "    X-Content-Type-Options: [nosniff]",
    ]
    if options.tls_cert and options.tls_key:
        lines += [
            "  tls:",
            f"    certificate: {_q(options.tls_cert)}",
            f"    key: {_q(options.tls_key)}",
        ]
    lines += [
        "auth:",
        "  token:",
        f"    realm: {_q(settings['URL'] + '/v2/token')}",
        f"    service: {_q(registry.hostname)}",
        f"    issuer: {_q(settings['TOKEN_ISSUER'])}",
        f"    rootcertbundle: {_q(settings['SIGNING_CERT'])}",
        "notifications:",
        "  endpoints:",
        "    - name: wharfinger",
        f"      url: {_q(settings['URL'] + '/v2/webhooks/events?registry=' + quote(registry.name))}",
        "      headers:",
        f"        Authorization: [{_q('Bearer ' + settings['EVENTS_SECRET'])}]",
        "      timeout: 2s",
        "      threshold: 5",
        "      backoff: 1s",
    ]
    return "\n".join(lines) + "\n"


def trust_instructions(registry: Registry, settings, options: RegistryConfigOptions) -> str:
    """What clients and the registry must trust, as text for the operator."""
    host = registry.pull_host
    lines = [
        f"# Registry {registry.name}: save the YAML above as config.yml and start it with",
        "#   docker-registry serve config.yml   (or mount it into registry:2 as",
        "#   /etc/docker/registry/config.yml)",
        f"# The registry verifies tokens with {settings['SIGNING_CERT']}: make that file",
        "#   readable at the same path on the registry host.",
        f"# It posts notifications to {settings['URL']}/v2/webhooks/events over HTTPS: it must",
        f"#   trust {settings['TLS_CERT']} (add it to the system CAs with",
        "#   update-ca-certificates, or start it with SSL_CERT_FILE=<system CAs + that file>).",
    ]
    if options.tls_cert:
        lines += [
            f"# Clients must trust {options.tls_cert}:",
            f"#   docker:        /etc/docker/certs.d/{host}/ca.crt",
            f"#   podman/skopeo: /etc/containers/certs.d/{host}/ca.crt, or --cert-dir DIR",
            "#                  with DIR/ca.crt",
        ]
    else:
        lines += [
            f"# Plain HTTP: clients need {host} as an insecure registry "
            "(docker: insecure-registries; skopeo: --tls-verify=false)."
        ]
    return "\n".join(lines)
