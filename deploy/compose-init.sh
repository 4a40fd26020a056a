#!/bin/sh
# One-shot set-up for docker-compose.yml (the `init` service); safe to run again.
#
# 1. `wharfinger init`: instance folder, secrets, token-signing key and certificate, TLS
#    key and certificate (SANs: WHARFINGER_FQDN, localhost, 127.0.0.1), database migrated.
# 2. Registers the registry once (REGISTRY_NAME at REGISTRY_HOST, the token `service`).
# 3. Writes into SHARED_DIR, the volume the registry container mounts at the same path:
#      registry-config.yml  from `wharfinger registry config` (token auth + notifications)
#      ca-bundle.crt        the system CAs plus Wharfinger's TLS certificate, which the
#                           registry trusts through SSL_CERT_FILE for its notifications
#    The signing certificate and the TLS certificate and key are already there because
#    WHARFINGER_SIGNING_CERT, WHARFINGER_TLS_CERT and WHARFINGER_TLS_KEY point into it.
#
# Any failure (database unreachable, bad setting) stops the script with a non-zero status,
# so the services that depend on it do not start.
set -eu

: "${WHARFINGER_FQDN:?set WHARFINGER_FQDN}"
SHARED_DIR=${SHARED_DIR:-/shared}
REGISTRY_NAME=${REGISTRY_NAME:-registry}
REGISTRY_HOST=${REGISTRY_HOST:-$WHARFINGER_FQDN:5000}
REGISTRY_STORAGE=${REGISTRY_STORAGE:-/var/lib/registry}
SYSTEM_CA_BUNDLE=${SYSTEM_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
TLS_CERT=${WHARFINGER_TLS_CERT:-${WHARFINGER_INSTANCE_PATH:-/var/lib/wharfinger}/tls.crt}

mkdir -p "$SHARED_DIR"
wharfinger init --fqdn "$WHARFINGER_FQDN"

# `registry config NAME` succeeds exactly when NAME is registered: add it only once.
if wharfinger registry config "$REGISTRY_NAME" >/dev/null 2>&1; then
    echo "registry $REGISTRY_NAME is registered already"
else
    wharfinger registry add "$REGISTRY_NAME" "$REGISTRY_HOST"
fi

# The config holds the events secret: readable by its owner only (the registry runs as root).
umask 077
wharfinger registry config "$REGISTRY_NAME" --storage "$REGISTRY_STORAGE" \
    >"$SHARED_DIR/registry-config.yml.tmp"
mv "$SHARED_DIR/registry-config.yml.tmp" "$SHARED_DIR/registry-config.yml"
echo "wrote $SHARED_DIR/registry-config.yml"

umask 022
{
    if [ -r "$SYSTEM_CA_BUNDLE" ]; then cat "$SYSTEM_CA_BUNDLE"; fi
    cat "$TLS_CERT"
} >"$SHARED_DIR/ca-bundle.crt.tmp"
mv "$SHARED_DIR/ca-bundle.crt.tmp" "$SHARED_DIR/ca-bundle.crt"
echo "wrote $SHARED_DIR/ca-bundle.crt"
