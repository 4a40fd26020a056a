"""Talk to a distribution registry 2.8.x: catalog, tags, manifests, deletes, a health ping.

``RegistryClient`` is what the reconciler, the event handlers and the admin pages use to
read the registry. It holds one ``requests.Session`` whose connection pool is sized for
concurrent use (``map_bounded`` runs calls from a thread pool), authenticates every call
with a bearer token obtained from the caller's ``token_provider`` (Wharfinger mints its own
tokens, protocol.md §10.5), and turns every failure into a typed ``RegistryError`` whose
message an operator can act on.

Rules it follows (protocol.md §10, §11):

* every request has a timeout, and transient failures (connection errors, timeouts, 5xx,
  429) are retried a bounded number of times with exponential backoff; 4xx are not;
* a 401/403 is retried once with a freshly minted token, then reported as
  ``RegistryAuthError``;
* a catalog walk that cannot finish raises ``CatalogIncomplete`` instead of ending early,
  so a reconciler never mistakes a partial listing for the truth;
* the manifest ``Accept`` header always lists every modern type (§10.3).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import email.utils
import hashlib
import json
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter

from app.registry.manifests import ACCEPT_HEADER, SCHEMA1_MEDIA_TYPES, normalize_media_type
from app.registry.scopes import parse_scope

CA_BUNDLE_SETTING = "WHARFINGER_REGISTRY_CA_BUNDLE"
CATALOG_SCOPE = "registry:catalog:*"

DEFAULT_TIMEOUT = (5.0, 30.0)
DEFAULT_RETRIES = 2
DEFAULT_BACKOFF = 0.25
MAX_BACKOFF = 5.0
DEFAULT_POOL_SIZE = 16
DEFAULT_USER_AGENT = "wharfinger"
# Config blobs are a few KiB; anything far larger is not what get_blob is meant for.
DEFAULT_MAX_BLOB_BYTES = 4 * 1024 * 1024

# Retry only what may succeed a moment later (RFC 9110 §15.6; 429 from rate limiters).
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_TRANSIENT_ERRORS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
)

# Tokens are renewed this long before they expire (or at half their lifetime if shorter).
TOKEN_RENEW_MARGIN_SECONDS = 30.0
# A token that is not a readable JWT is kept this long.
OPAQUE_TOKEN_SECONDS = 60.0
MAX_CACHED_TOKENS = 1024

# distribution's reference grammar: tags are [\w][\w.-]{0,127}; digests algorithm:encoded.
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DIGEST = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")
_CHALLENGE_PARAM = re.compile(r'(\w+)=(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')

# What an operator should do about an error code the registry returns (protocol.md §10).
_ERROR_HINTS = {
    "PAGINATION_NUMBER_INVALID": "the catalog page size is above the registry's "
    "catalog.maxentries; use a smaller page size",
    "UNSUPPORTED": "the registry refuses this operation; for deletes set "
    "storage.delete.enabled: true in the registry's config",
    "DIGEST_INVALID": "the registry deletes manifests by digest only",
}

TokenProvider = Callable[[list[str]], str]
T = TypeVar("T")
R = TypeVar("R")


class RegistryError(Exception):
    """A registry call failed; ``status`` and ``code`` (the registry's error code) if known."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code


class RegistryUnavailable(RegistryError):
    """The registry could not be reached or kept failing (connection, timeout, 5xx, 429)."""


class RegistryAuthError(RegistryError):
    """The registry refused Wharfinger's token even after a fresh one was minted."""


class TLSUntrusted(RegistryError):
    """The registry's TLS certificate is not trusted by the configured CA bundle."""


class ManifestNotFound(RegistryError):
    """The registry has no manifest (or no repository) for the requested reference."""


class CatalogIncomplete(RegistryError):
    """The catalog could not be read to the end; repositories yielded so far are partial.

    ``pages`` and ``repositories`` count what was read before the failure; ``cause`` (also
    chained as ``__cause__``) is the underlying error, e.g. a RegistryAuthError or
    RegistryUnavailable. A reconciler must not delete anything after this error.
    """

    def __init__(self, message: str, *, pages: int, repositories: int, cause: RegistryError):
        super().__init__(message, status=cause.status, code=cause.code)
        self.pages = pages
        self.repositories = repositories
        self.cause = cause


@dataclass(frozen=True)
class ManifestRef:
    """Where a tag or digest points: digest, media type and manifest size in bytes."""

    digest: str
    media_type: str | None
    size: int | None


@dataclass(frozen=True)
class BearerChallenge:
    """The parameters of a ``WWW-Authenticate: Bearer ...`` challenge (protocol.md §3.2)."""

    realm: str | None
    service: str | None
    scope: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class PingResult:
    """What ``GET /v2/`` told: status, API version, challenge, server time and clock skew.

    An unauthenticated ping expects 401 with a challenge whose ``realm``/``service`` should
    be Wharfinger's. ``clock_skew`` is server time minus local time in seconds (the
    ``Date`` header has one-second resolution); the registry allows 60 s (§11 #3).
    """

    status: int
    api_version: str | None
    challenge: BearerChallenge | None
    date: dt.datetime | None
    clock_skew: float | None


class RegistryClient:
    """A thread-safe client for one registry; ``close()`` it (or use it as a context manager).

    ``base_url`` is ``scheme://host[:port]``. ``token_provider(scopes)`` returns a bearer
    token granting ``scopes``; tokens are cached per scope set until shortly before their
    ``exp``. ``verify`` is a CA bundle path or a bool, as in ``requests``. ``timeout`` is
    ``(connect, read)`` seconds and always applies. ``retries`` bounds the extra attempts on
    transient failures; ``backoff`` is the first delay, doubled each time. ``pool_size`` is
    the number of kept connections; run at most that many calls concurrently.
    ``trust_env=False`` (default) ignores proxy, CA and ``.netrc`` settings of the
    environment, so only Wharfinger's own settings apply.
    """

    def __init__(
        self,
        base_url: str,
        token_provider: TokenProvider,
        *,
        verify: bool | str | Path = True,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        backoff: float = DEFAULT_BACKOFF,
        user_agent: str = DEFAULT_USER_AGENT,
        pool_size: int = DEFAULT_POOL_SIZE,
        trust_env: bool = False,
    ) -> None:
        self.base_url = _check_base_url(base_url)
        self.timeout = _check_timeout(timeout)
        self.retries = _check_count(retries, "retries", minimum=0)
        self.backoff = max(0.0, float(backoff))
        self.pool_size = _check_count(pool_size, "pool_size", minimum=1)
        self._tokens = _TokenCache(token_provider)
        self._session = _build_session(_check_verify(verify), user_agent, pool_size, trust_env)
        self._count_lock = threading.Lock()
        self._request_count = 0

    @property
    def request_count(self) -> int:
        """HTTP requests sent so far, every retry included (benchmarks print it)."""
        return self._request_count

    def close(self) -> None:
        """Close the pooled connections."""
        self._session.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def ping(self, *, authenticate: bool = False) -> PingResult:
        """``GET /v2/`` to check the registry is up and how it is configured.

        Without a token the answer should be 401 with a Bearer challenge naming
        Wharfinger's realm and the registry's service. With ``authenticate=True`` a token
        without access is sent; 200 then proves the registry trusts Wharfinger's signing
        certificate, issuer and service. Statuses are reported, not raised.
        """
        headers = self._auth_headers([]) if authenticate else {}
        response = self._send("GET", self._url("/v2/"), headers)
        return _ping_result(response)

    def catalog(self, page_size: int = 100) -> Iterator[str]:
        """Every repository name, page by page, in the registry's storage order (§10.1).

        Follows the relative ``Link: <...>; rel="next"`` header; stops when it is missing
        or a page is empty. A ``page_size`` above the registry's ``catalog.maxentries`` is
        refused by the registry; the walk then lets the registry choose the page size.
        Raises CatalogIncomplete if any page fails after retries, so names already yielded
        must be treated as a partial listing.
        """
        _check_count(page_size, "page_size", minimum=1)
        return self._walk_catalog(page_size)

    def tags(self, repository: str) -> list[str] | None:
        """The repository's tags, sorted; ``[]`` when all were deleted; None if unknown.

        2.8.2 answers ``"tags": null`` after the last tag is deleted, returns tags in
        directory order, and ignores ``n``/``last`` (§10.2).
        """
        url = self._url(f"/v2/{_repository(repository)}/tags/list")
        response = self._authorized("GET", url, [_scope(repository, "pull")])
        if response.status_code == 404 and _error_code(response) == "NAME_UNKNOWN":
            return None
        _expect(response, {200}, f"list the tags of {repository}")
        return sorted(_string_list(_json_body(response), "tags", "tag list"))

    def head_manifest(self, repository: str, reference: str) -> ManifestRef | None:
        """Resolve a tag or digest to its digest, media type and size; None if absent.

        HEAD costs no body but still emits a ``pull`` event (§9.3): identify the caller by
        ``user_agent`` so the event receiver can drop them.
        """
        response = self._manifest_request("HEAD", repository, reference)
        if response.status_code == 404:
            return None
        _expect(response, {200}, f"look up manifest {repository}:{reference}")
        return _manifest_ref(response, reference, None)

    def get_manifest(self, repository: str, reference: str) -> tuple[ManifestRef, bytes]:
        """The manifest exactly as stored, with its reference data.

        The body is checked against the digest it was fetched by and the one the registry
        announced (except signed schema 1, whose digest covers the unsigned payload).
        Raises ManifestNotFound on 404.
        """
        response = self._manifest_request("GET", repository, reference)
        if response.status_code == 404:
            raise _not_found(response, f"{repository}:{reference}")
        _expect(response, {200}, f"fetch manifest {repository}:{reference}")
        ref = _manifest_ref(response, reference, response.content)
        by_digest = [reference] if _DIGEST.fullmatch(reference) else []
        _verify_digest(ref.media_type, response.content, ref.digest, *by_digest)
        return ref, response.content

    def get_blob(
        self, repository: str, digest: str, *, max_bytes: int = DEFAULT_MAX_BLOB_BYTES
    ) -> bytes:
        """A small blob, typically an image config (for its platform); checked against its
        digest. Raises RegistryError if it is larger than ``max_bytes``."""
        url = self._url(f"/v2/{_repository(repository)}/blobs/{_digest(digest)}")
        response = self._authorized("GET", url, [_scope(repository, "pull")], stream=True)
        with response:
            if response.status_code == 404:
                raise _not_found(response, f"{repository}@{digest}")
            _expect(response, {200}, f"fetch blob {repository}@{digest}")
            data = _read_limited(response, max_bytes, digest)
        _verify_digest(None, data, digest)
        return data

    def delete_manifest(self, repository: str, digest: str) -> bool:
        """Delete a manifest by digest: True if deleted, False if it was already absent.

        The registry also removes **every** tag pointing to the digest (§10.4). A retried
        DELETE whose first attempt succeeded reports False: either way, it is gone.
        """
        url = self._url(f"/v2/{_repository(repository)}/manifests/{_digest(digest)}")
        response = self._authorized("DELETE", url, [_scope(repository, "delete")])
        if response.status_code == 404:
            return False
        _expect(response, {202}, f"delete manifest {repository}@{digest}")
        return True

    # --- catalog ------------------------------------------------------------------------

    def _walk_catalog(self, page_size: int) -> Iterator[str]:
        """Generator behind ``catalog``: fetch a page, yield its names, follow its Link."""
        url: str | None = self._url(f"/v2/_catalog?n={page_size}")
        visited: set[str] = set()
        pages = names = 0
        while url is not None:
            visited.add(url)
            try:
                page, url = self._catalog_page(url, visited, first=pages == 0)
            except RegistryError as error:
                raise _incomplete(error, pages, names) from error
            pages, names = pages + 1, names + len(page)
            yield from page

    def _catalog_page(
        self, url: str, visited: set[str], *, first: bool
    ) -> tuple[list[str], str | None]:
        """One catalog page's names and the absolute URL of the next page (None at the end)."""
        response = self._authorized("GET", url, [CATALOG_SCOPE])
        if first and _page_size_refused(response):
            # n above catalog.maxentries is a 400 (§10.1); without n the registry serves
            # min(100, maxentries) per page and its Links carry that size on.
            response = self._authorized("GET", self._url("/v2/_catalog"), [CATALOG_SCOPE])
        _expect(response, {200}, "list the catalog")
        names = _string_list(_json_body(response), "repositories", "catalog page")
        # A Link can point at an empty page (a leftover namespace directory): stop there.
        next_url = self._next_link(response) if names else None
        if next_url in visited:
            raise RegistryError(f"the registry's catalog Link loops back to {next_url}")
        return names, next_url

    def _next_link(self, response: requests.Response) -> str | None:
        """The ``rel="next"`` Link joined to the base URL; it must stay on the registry."""
        link = response.links.get("next", {}).get("url")
        if not link:
            return None
        absolute = urljoin(self.base_url + "/", link)
        if _origin(absolute) != _origin(self.base_url):
            raise RegistryError(f"the registry's catalog Link leaves the registry: {link!r}")
        return absolute

    # --- requests -----------------------------------------------------------------------

    def _manifest_request(self, method: str, repository: str, reference: str) -> requests.Response:
        """HEAD or GET a manifest with the full Accept list."""
        url = self._url(f"/v2/{_repository(repository)}/manifests/{_reference(reference)}")
        headers = {"Accept": ACCEPT_HEADER}
        return self._authorized(method, url, [_scope(repository, "pull")], headers)

    def _authorized(
        self,
        method: str,
        url: str,
        scopes: list[str],
        headers: Mapping[str, str] | None = None,
        *,
        stream: bool = False,
    ) -> requests.Response:
        """Send with a token for ``scopes``; on 401/403 retry once with a fresh token."""
        response = self._send(
            method, url, {**(headers or {}), **self._auth_headers(scopes)}, stream
        )
        if response.status_code not in (401, 403):
            return response
        response.close()
        self._tokens.forget(scopes)
        response = self._send(
            method, url, {**(headers or {}), **self._auth_headers(scopes)}, stream
        )
        if response.status_code in (401, 403):
            response.close()
            raise _auth_error(response, method, url, scopes)
        return response

    def _auth_headers(self, scopes: list[str]) -> dict[str, str]:
        """The ``Authorization`` header carrying a token for ``scopes``."""
        return {"Authorization": f"Bearer {self._tokens.get(scopes)}"}

    def _send(
        self, method: str, url: str, headers: Mapping[str, str], stream: bool = False
    ) -> requests.Response:
        """One logical request: retried on transient failures, raising when they persist."""
        failure: requests.Response | Exception | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self._delay(attempt, failure))
            try:
                response = self._attempt(method, url, headers, stream)
            except requests.exceptions.SSLError as error:
                raise _tls_error(self.base_url, error) from error
            except _TRANSIENT_ERRORS as error:
                failure = error
                continue
            if response.status_code not in RETRY_STATUSES:
                return response
            response.close()
            failure = response
        raise _unavailable(method, url, failure, self.retries + 1, self.timeout)

    def _attempt(
        self, method: str, url: str, headers: Mapping[str, str], stream: bool
    ) -> requests.Response:
        """Exactly one HTTP request (counted); other request errors become RegistryError."""
        with self._count_lock:
            self._request_count += 1
        try:
            return self._session.request(
                method,
                url,
                headers=dict(headers),
                timeout=self.timeout,
                stream=stream,
                allow_redirects=method == "GET",
            )
        except (requests.exceptions.SSLError, *_TRANSIENT_ERRORS):
            raise
        except requests.exceptions.RequestException as error:
            raise RegistryError(f"{method} {url} failed: {error}") from error

    def _delay(self, attempt: int, failure: requests.Response | Exception | None) -> float:
        """Seconds to wait before ``attempt``: exponential with jitter, or Retry-After."""
        retry_after = _retry_after(failure) if isinstance(failure, requests.Response) else None
        if retry_after is not None:
            return min(retry_after, MAX_BACKOFF)
        base = min(self.backoff * 2 ** (attempt - 1), MAX_BACKOFF)
        # Jitter keeps concurrent workers from retrying in lockstep; not security-relevant.
        return base * (0.5 + random.random() / 2)  # noqa: S311

    def _url(self, path: str) -> str:
        """The absolute URL of a registry path."""
        return self.base_url + path


def map_bounded(
    fn: Callable[[T], R],
    items: Iterable[T],
    workers: int,
    *,
    return_exceptions: bool = False,
) -> list[R | BaseException]:
    """``[fn(item) for item in items]`` run by at most ``workers`` threads, in input order.

    Meant for many independent registry calls (a HEAD per tag). Without
    ``return_exceptions`` the first failure is raised and calls not yet started are
    cancelled; with it, each failure takes its item's place in the result list.
    """
    _check_count(workers, "workers", minimum=1)
    work = list(items)
    if not work:
        return []
    call = _capturing(fn) if return_exceptions else fn
    pool = ThreadPoolExecutor(max_workers=min(workers, len(work)), thread_name_prefix="registry")
    try:
        return list(pool.map(call, work))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def parse_bearer_challenge(header: str | None) -> BearerChallenge | None:
    """The parameters of a ``Bearer`` ``WWW-Authenticate`` value, or None if it is not one."""
    if not header or header[:7].lower() != "bearer ":
        return None
    params = {
        key.lower(): quoted.replace('\\"', '"') if quoted or not bare else bare
        for key, quoted, bare in _CHALLENGE_PARAM.findall(header[7:])
    }
    return BearerChallenge(
        realm=params.get("realm"),
        service=params.get("service"),
        scope=params.get("scope"),
        error=params.get("error"),
    )


# --- tokens ---------------------------------------------------------------------------


class _TokenCache:
    """Tokens per scope set, kept until shortly before they expire; thread-safe.

    The provider is called outside the lock, so two threads may mint the same token at
    once; that costs one signature and keeps the lock from serializing all minting.
    """

    def __init__(self, provider: TokenProvider) -> None:
        self._provider = provider
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, ...], tuple[str, float]] = {}

    def get(self, scopes: list[str]) -> str:
        """A valid token for ``scopes``, minted when none is cached or it is about to expire."""
        key = tuple(sorted(set(scopes)))
        now = time.time()
        with self._lock:
            cached = self._tokens.get(key)
        if cached is not None and now < cached[1]:
            return cached[0]
        token = self._provider(list(key))
        self._store(key, token, now)
        return token

    def forget(self, scopes: list[str]) -> None:
        """Drop the cached token for ``scopes`` (the registry refused it)."""
        with self._lock:
            self._tokens.pop(tuple(sorted(set(scopes))), None)

    def _store(self, key: tuple[str, ...], token: str, now: float) -> None:
        """Cache ``token`` until its renewal time, keeping the cache bounded."""
        renew_at = _renewal_time(token, now)
        if renew_at <= now:
            return
        with self._lock:
            if len(self._tokens) >= MAX_CACHED_TOKENS:
                self._prune(now)
            self._tokens[key] = (token, renew_at)

    def _prune(self, now: float) -> None:
        """Drop expired tokens, then the oldest ones, to make room (lock held)."""
        for key in [k for k, (_, renew_at) in self._tokens.items() if renew_at <= now]:
            del self._tokens[key]
        while len(self._tokens) >= MAX_CACHED_TOKENS:
            del self._tokens[next(iter(self._tokens))]


def _renewal_time(token: str, now: float) -> float:
    """When to mint a new token: before the JWT's ``exp`` by the renew margin (at most half
    the remaining lifetime); a token that is not a readable JWT lives OPAQUE_TOKEN_SECONDS."""
    expires = _jwt_expiry(token)
    if expires is None:
        return now + OPAQUE_TOKEN_SECONDS
    remaining = expires - now
    return expires - min(TOKEN_RENEW_MARGIN_SECONDS, remaining / 2)


def _jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim of a compact JWS, read without verifying (it is our own token)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return None
    expires = claims.get("exp") if isinstance(claims, dict) else None
    valid = isinstance(expires, int | float) and not isinstance(expires, bool)
    return float(expires) if valid else None


# --- responses ------------------------------------------------------------------------


def _expect(response: requests.Response, statuses: set[int], what: str) -> None:
    """Raise RegistryError (with the registry's code and a hint) unless the status is expected."""
    if response.status_code in statuses:
        return
    code, message = _registry_error(response)
    detail = f"{code}: {message}" if code else (message or response.reason or "no detail")
    hint = _ERROR_HINTS.get(code or "")
    text = f"could not {what}: the registry answered HTTP {response.status_code} ({detail})"
    raise RegistryError(f"{text}; {hint}" if hint else text, status=response.status_code, code=code)


def _page_size_refused(response: requests.Response) -> bool:
    """True for the 400 a catalog request gets when ``n`` exceeds ``catalog.maxentries``."""
    return response.status_code == 400 and _error_code(response) == "PAGINATION_NUMBER_INVALID"


def _registry_error(response: requests.Response) -> tuple[str | None, str | None]:
    """Code and message of the first entry of a ``{"errors": [...]}`` body, if any."""
    try:
        errors = response.json().get("errors")
        first = errors[0]
        return _text(first.get("code")), _text(first.get("message"))
    except (ValueError, AttributeError, TypeError, IndexError, KeyError):
        return None, None


def _error_code(response: requests.Response) -> str | None:
    """The registry's error code of a failed response (None for a HEAD or a foreign body)."""
    return _registry_error(response)[0]


def _json_body(response: requests.Response) -> dict[str, Any]:
    """The response's JSON object, or RegistryError when the body is something else."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise RegistryError(
            f"the registry answered {response.request.method} {response.url} with a body that "
            "is not a JSON object: is the base URL a distribution registry?",
            status=response.status_code,
        )
    return body


def _string_list(body: Mapping[str, Any], key: str, what: str) -> list[str]:
    """``body[key]`` as a list of strings; ``null`` or absent reads as empty."""
    values = body.get(key)
    if values is None:
        return []
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise RegistryError(f"malformed {what}: {key!r} is not a list of strings")
    return values


def _manifest_ref(response: requests.Response, reference: str, body: bytes | None) -> ManifestRef:
    """Digest, media type and size from a manifest response's headers (or its body)."""
    digest = response.headers.get("Docker-Content-Digest")
    if not digest and _DIGEST.fullmatch(reference):
        digest = reference
    if not digest and body is not None:
        digest = _sha256(body)
    if not digest:
        raise RegistryError(
            f"the registry sent no Docker-Content-Digest for {response.url}: a proxy in "
            "between may be dropping headers"
        )
    size = len(body) if body is not None else _content_length(response)
    return ManifestRef(digest, normalize_media_type(response.headers.get("Content-Type")), size)


def _verify_digest(media_type: str | None, body: bytes, *expected: str) -> None:
    """Refuse content that does not hash to the sha256 digests it was fetched by or announced
    with. Signed schema 1 is exempt: its digest covers the payload without signatures."""
    if media_type in SCHEMA1_MEDIA_TYPES:
        return
    actual = _sha256(body)
    for digest in expected:
        if digest.startswith("sha256:") and digest != actual:
            raise RegistryError(f"the registry sent content for {digest} that hashes to {actual}")


def _read_limited(response: requests.Response, max_bytes: int, digest: str) -> bytes:
    """Read a streamed body, refusing more than ``max_bytes``."""
    announced = _content_length(response)
    if announced is not None and announced > max_bytes:
        raise RegistryError(f"blob {digest} has {announced} bytes, above the {max_bytes} limit")
    data = bytearray()
    for chunk in response.iter_content(chunk_size=65536):
        data += chunk
        if len(data) > max_bytes:
            raise RegistryError(f"blob {digest} is larger than the {max_bytes} byte limit")
    return bytes(data)


def _ping_result(response: requests.Response) -> PingResult:
    """A PingResult from the ``/v2/`` response."""
    date = _http_date(response.headers.get("Date"))
    skew = (date - dt.datetime.now(dt.UTC)).total_seconds() if date else None
    return PingResult(
        status=response.status_code,
        api_version=response.headers.get("Docker-Distribution-Api-Version"),
        challenge=parse_bearer_challenge(response.headers.get("WWW-Authenticate")),
        date=date,
        clock_skew=skew,
    )


def _retry_after(response: requests.Response) -> float | None:
    """A ``Retry-After`` given in seconds, or None."""
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isascii() and value.isdigit() else None


# --- errors ---------------------------------------------------------------------------


def _tls_error(base_url: str, error: requests.exceptions.SSLError) -> RegistryError:
    """TLSUntrusted for a certificate that did not verify, RegistryUnavailable otherwise."""
    text = str(error)
    reason = re.search(r"certificate verify failed: ([^(\"']+)", text)
    if reason or "CERTIFICATE_VERIFY_FAILED" in text:
        why = reason.group(1).strip() if reason else "certificate verify failed"
        return TLSUntrusted(
            f"the registry's TLS certificate at {base_url} is not trusted ({why}); set "
            f"{CA_BUNDLE_SETTING} to a PEM file holding the CA certificate that signed it "
            "(for a self-signed registry, the certificate itself)"
        )
    return RegistryUnavailable(
        f"the TLS handshake with {base_url} failed: {text}; check that the registry "
        "really serves https on that port"
    )


def _unavailable(
    method: str,
    url: str,
    failure: requests.Response | Exception | None,
    attempts: int,
    timeout: tuple[float, float],
) -> RegistryUnavailable:
    """The error after the last failed attempt, saying what went wrong and how often."""
    tries = f"after {attempts} attempt{'s' if attempts > 1 else ''}"
    if isinstance(failure, requests.Response):
        code, message = _registry_error(failure)
        detail = f" ({code}: {message})" if code else ""
        return RegistryUnavailable(
            f"the registry answered {method} {url} with HTTP {failure.status_code}{detail} {tries}",
            status=failure.status_code,
            code=code,
        )
    if isinstance(failure, requests.exceptions.Timeout):
        return RegistryUnavailable(
            f"the registry did not answer {method} {url} within the timeout "
            f"(connect {timeout[0]} s, read {timeout[1]} s) {tries}"
        )
    return RegistryUnavailable(f"cannot reach the registry for {method} {url} {tries}: {failure}")


def _auth_error(
    response: requests.Response, method: str, url: str, scopes: list[str]
) -> RegistryAuthError:
    """Why the registry refused a freshly minted token, in operator terms (protocol.md §11)."""
    challenge = parse_bearer_challenge(response.headers.get("WWW-Authenticate"))
    error = challenge.error if challenge else None
    if error == "insufficient_scope":
        advice = f"the token did not grant {', '.join(scopes) or 'the needed access'}"
    else:
        advice = (
            "check that the registry's auth.token issuer, service and rootcertbundle match "
            "Wharfinger's token issuer, the registry's service name and Wharfinger's signing "
            "certificate, and that both clocks are right"
        )
    return RegistryAuthError(
        f"the registry refused Wharfinger's token for {method} {url} (HTTP "
        f"{response.status_code}, error={error or 'none'}): {advice}",
        status=response.status_code,
        code=_error_code(response),
    )


def _not_found(response: requests.Response, what: str) -> ManifestNotFound:
    """ManifestNotFound naming the reference and the registry's error code."""
    code = _error_code(response)
    return ManifestNotFound(
        f"{what} not found in the registry ({code or 'HTTP 404'})", status=404, code=code
    )


def _incomplete(error: RegistryError, pages: int, names: int) -> CatalogIncomplete:
    """CatalogIncomplete wrapping the failure of a catalog page."""
    return CatalogIncomplete(
        f"the registry catalog could not be read completely (stopped after {pages} pages, "
        f"{names} repositories): {error}",
        pages=pages,
        repositories=names,
        cause=error,
    )


def _capturing(fn: Callable[[T], R]) -> Callable[[T], R | BaseException]:
    """``fn`` returning its exception instead of raising it."""

    def call(item: T) -> R | BaseException:
        try:
            return fn(item)
        except Exception as error:
            return error

    return call


# --- arguments ------------------------------------------------------------------------


def _repository(name: str) -> str:
    """A repository name checked against the registry grammar (it goes into the URL path)."""
    parse_scope(f"repository:{name}:pull")  # raises ScopeError, a ValueError, if malformed
    return name


def _scope(repository: str, action: str) -> str:
    """The token scope for ``action`` on ``repository``."""
    return f"repository:{_repository(repository)}:{action}"


def _reference(reference: str) -> str:
    """A tag or digest checked against the reference grammar."""
    if not (_TAG.fullmatch(reference) or _DIGEST.fullmatch(reference)):
        raise ValueError(f"{reference!r} is neither a tag nor a digest")
    return reference


def _digest(reference: str) -> str:
    """A digest (``algorithm:encoded``); tags are refused with the reason."""
    if not _DIGEST.fullmatch(reference):
        raise ValueError(
            f"{reference!r} is not a digest: the registry deletes and serves blobs by digest "
            "only; resolve a tag with head_manifest first"
        )
    return reference


def _check_base_url(base_url: str) -> str:
    """``scheme://host[:port]`` without a trailing slash; a path would break catalog Links."""
    parts = urlsplit(base_url.rstrip("/"))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"registry URL {base_url!r} must look like https://host[:port]")
    if parts.path or parts.query or parts.fragment:
        raise ValueError(f"registry URL {base_url!r} must not have a path, query or fragment")
    return f"{parts.scheme}://{parts.netloc}"


def _check_verify(verify: bool | str | Path) -> bool | str:
    """``verify`` for requests; a CA bundle path must exist (checked now, not at first call)."""
    if isinstance(verify, bool):
        return verify
    path = Path(verify)
    if not path.exists():
        raise ValueError(f"{CA_BUNDLE_SETTING}: CA bundle {str(path)!r} does not exist")
    return str(path)


def _check_timeout(timeout: tuple[float, float]) -> tuple[float, float]:
    """A ``(connect, read)`` pair of positive seconds: a request without timeout can hang."""
    try:
        connect, read = (float(value) for value in timeout)
    except (TypeError, ValueError):
        raise ValueError(f"timeout must be (connect, read) seconds, got {timeout!r}") from None
    if connect <= 0 or read <= 0:
        raise ValueError(f"timeouts must be positive, got {timeout!r}")
    return connect, read


def _check_count(value: int, what: str, *, minimum: int) -> int:
    """An int of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{what} must be an integer of at least {minimum}, got {value!r}")
    return value


def _build_session(
    verify: bool | str, user_agent: str, pool_size: int, trust_env: bool
) -> requests.Session:
    """A session whose pool keeps ``pool_size`` connections and blocks beyond that.

    Retries are done by RegistryClient itself (so they are counted and typed), hence
    ``max_retries=0`` on the adapter.
    """
    session = requests.Session()
    session.trust_env = trust_env
    session.verify = verify
    session.headers["User-Agent"] = user_agent
    adapter = HTTPAdapter(
        pool_connections=1, pool_maxsize=pool_size, max_retries=0, pool_block=True
    )
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _origin(url: str) -> tuple[str, str]:
    """Scheme and ``host:port`` of a URL, for same-registry checks."""
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower()


def _http_date(value: str | None) -> dt.datetime | None:
    """An HTTP ``Date`` header as aware UTC, or None."""
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).astimezone(dt.UTC)
    except (TypeError, ValueError):
        return None


def _content_length(response: requests.Response) -> int | None:
    """The ``Content-Length`` header as an int, or None."""
    value = response.headers.get("Content-Length", "")
    return int(value) if value.isascii() and value.isdigit() else None


def _sha256(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _text(value: Any) -> str | None:
    """``value`` if it is a string, else None."""
    return value if isinstance(value, str) else None
