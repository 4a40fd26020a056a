"""Token signing throughput: signs per second for RS256-2048, RS256-4096 and ES256.

Run from the repository root: ``.venv/bin/python -m bench.sign``. Prints the median of a few
timed runs, each signing a typical one-repository claim set.
"""

from __future__ import annotations

import statistics
import time

from app.registry.jwt import TokenSigner, build_claims
from app.registry.keys import (
    certificate_pem,
    generate_private_key,
    private_key_pem,
    self_signed_certificate,
)
from app.registry.scopes import Scope

RUNS = 5
SECONDS_PER_RUN = 0.5
CASES = (("RS256 2048", "RS256", 2048), ("RS256 4096", "RS256", 4096), ("ES256", "ES256", 0))


def make_signer(algorithm: str, rsa_bits: int) -> TokenSigner:
    """A signer over a fresh key and its self-signed certificate."""
    key = generate_private_key(algorithm, rsa_bits=rsa_bits or 2048)
    cert = self_signed_certificate(key, "bench", ["localhost"])
    return TokenSigner.from_pem(private_key_pem(key), certificate_pem(cert))


def signs_per_second(signer: TokenSigner) -> float:
    """Sign fresh claims (as the endpoint does) for about SECONDS_PER_RUN; return the rate."""
    access = [Scope("repository", "team/app", ("pull", "push"))]
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < SECONDS_PER_RUN:
        claims = build_claims(
            issuer="wharfinger",
            subject="alice",
            audience="registry",
            access=access,
            ttl_seconds=300,
        )
        signer.sign(claims)
        count += 1
    return count / elapsed


def main() -> None:
    """Print the median signing rate of each case."""
    for label, algorithm, rsa_bits in CASES:
        signer = make_signer(algorithm, rsa_bits)
        median = statistics.median(signs_per_second(signer) for _ in range(RUNS))
        print(f"{label:<11} {median:>9,.0f} signs/s (median of {RUNS} runs)")


if __name__ == "__main__":
    main()
