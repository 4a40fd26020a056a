"""A browser stand-in for the Flask test client: HTTPS, CSRF tokens, one app context per
request."""

from __future__ import annotations

import re

from tests.factories import PASSWORD

SESSION_STARTERS = ("/users/sign_in", "/users/sign_up")
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


class WebClient:
    """The Flask test client plus what a browser does with forms: it sends the CSRF token
    that the page it came from carried."""

    def __init__(self, client):
        self.client = client
        self._token: str | None = None

    def _request(self, method: str, path: str, **kwargs):
        """One request in its own app context, as under a real server: otherwise requests
        share the test's context and its ``g`` (flask-login's user, Flask-WTF's token)."""
        kwargs.setdefault("base_url", "https://localhost")  # session cookies are Secure
        # Browsers send the page's address; Flask-WTF checks it on HTTPS.
        kwargs.setdefault("headers", {"Referer": "https://localhost/"})
        with self.client.application.app_context():
            return self.client.open(path, method=method, **kwargs)

    def get(self, path: str, **kwargs):
        """GET ``path``, remembering a CSRF token if the page has a form."""
        response = self._request("GET", path, **kwargs)
        found = CSRF_FIELD.search(response.get_data(as_text=True))
        if found:
            self._token = found.group(1)
        return response

    def post(self, path: str, data: dict | None = None, *, csrf: bool = True, **kwargs):
        """POST a form; with ``csrf`` the token of a page of this session is included."""
        data = dict(data or {})
        if csrf:
            if self._token is None:
                self.get("/users/sign_in", follow_redirects=True)
            data["csrf_token"] = self._token
        response = self._request("POST", path, data=data, **kwargs)
        if path.startswith(SESSION_STARTERS):
            self._token = None  # a new session: the next form needs a token of its own
        return response

    def sign_in(self, username: str, password: str = PASSWORD):
        """Sign in through the form; returns the response."""
        return self.post("/users/sign_in", {"username": username, "password": password})
