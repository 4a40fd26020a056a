#!/bin/sh
# Entry point of the Wharfinger image: every argument is a `wharfinger` subcommand.
#
#   docker run IMAGE                      -> wharfinger init, then wharfinger serve --bind 0.0.0.0:8443
#   docker run IMAGE worker               -> wharfinger worker
#   docker run IMAGE user create alice    -> wharfinger user create alice
#
# Before `serve` it runs `wharfinger init`, which is idempotent: it creates what is missing
# in the instance folder (secrets, token-signing key, TLS certificate), migrates the
# database to the latest schema and keeps everything that exists. For a shell, use
# `docker run --entrypoint sh IMAGE`.
set -e

if [ "$#" -eq 0 ]; then
    set -- serve --bind 0.0.0.0:8443
fi

if [ "$1" = "serve" ]; then
    wharfinger init
fi

exec wharfinger "$@"
