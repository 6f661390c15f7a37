"""Who may call what: the one role matrix of the API, enforced by the gate before any body is
read, and rendered into the README (``python -m spamledger._docs``).

``admin`` may call everything. Country scope is a second, per-number check inside the
handlers: it always follows the number's OWN country (parsed from the number), never a
country the caller declares.

Example::

    roles_for("POST", "/v1/disputes")     # ("business",)
"""

from __future__ import annotations

import logging
import re

from api._auth import ROLES

logger = logging.getLogger(__name__)

# (method, path template) -> (roles, what the country scope limits)
MATRIX: dict[tuple[str, str], tuple[tuple[str, ...], str]] = {
    ("GET", "/v1/reputation/{number}"): (("telco", "business"), "none: any number"),
    ("POST", "/v1/reputation/batch"): (("telco",), "none: any number"),
    ("POST", "/v1/reports"): (("telco",), "the reported number's own country"),
    ("GET", "/v1/bundles/{country}"): (("telco",), "that country's bundle; `all` needs an "
                                                   "every-country key"),
    ("GET", "/v1/bundles/{country}/delta"): (("telco",), "that country's deltas; `all` needs "
                                                         "an every-country key"),
    ("POST", "/v1/disputes"): (("business",), "the disputed number's own country"),
    ("GET", "/v1/disputes/{dispute_id}"): (("business",), "only disputes the key filed"),
    ("GET", "/v1/audit/numbers/{number}"): (("regulator",), "the number's own country"),
    ("GET", "/v1/audit/numbers/{number}/verify"): (("regulator",), "the number's own country"),
    ("GET", "/v1/audit/numbers/{number}/legacy"): (("regulator",), "the number's own country"),
    ("GET", "/v1/audit/export"): (("regulator",),
                                  "events of numbers whose rounds are in that country, and "
                                  "that country's epoch commits"),
    ("POST", "/v1/relay"): (("telco",), "none: the message's validator signature names the "
                                        "operator"),
    ("GET", "/v1/relay/{seq}/{kind}"): (("telco",), "none: signed report-path messages"),
}

# The web console's pages (``/console/...``): path prefix -> (roles, what the page is).
# Same keys, roles and country scopes as the API; checked for every console request.
CONSOLE_PAGES: dict[str, tuple[tuple[str, ...], str]] = {
    "/console/audit": (("regulator",), "number audit: timeline, every check, CSV/JSON export "
                                       "(the key's countries)"),
    "/console/consortium": (("regulator",), "validators, arbiters, parameters, models"),
    "/console/activity": (("regulator",), "rounds, votes, disputes and epochs over time "
                                          "(the key's countries)"),
    "/console/business": (("business",), "look up numbers, file and follow its own disputes"),
    "/console/arbiter": (("telco", "regulator"), "disputes this key's signer may vote on; "
                                                 "votes signed server-side"),
    "/console/operator": (("telco",), "model approvals signed server-side, votes pending "
                                      "and cast by this key's validator, epochs (the key's "
                                      "country)"),
    "/console/operator/drift": (("telco",), "score drift per country: the latest week's epoch "
                                            "scores against the model card's training "
                                            "distribution (the key's country)"),
    "/console/evidence": (("telco", "regulator"), "evidence files, CID-verified"),
}

_PATTERNS = [(method, re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"), path)
             for method, path in MATRIX]


def route_of(method: str, path: str) -> tuple[str, str] | None:
    """The matrix entry a request path falls under (literal paths before templates)."""
    if (method, path) in MATRIX:
        return method, path
    for m, pattern, template in _PATTERNS:
        if m == method and pattern.match(path):
            return m, template
    return None


def roles_for(method: str, path: str) -> tuple[str, ...] | None:
    """Roles allowed on a request (admin implied); None for paths outside the matrix."""
    route = route_of(method, path)
    return MATRIX[route][0] if route else None


def console_roles(path: str) -> tuple[str, ...] | None:
    """Roles allowed on a console page (admin implied); None for pages every signed-in key
    may open (home, sign-out)."""
    for prefix, (roles, _what) in CONSOLE_PAGES.items():
        if path == prefix or path.startswith(prefix + "/"):
            return roles
    return None


def console_markdown() -> str:
    """The README's console page matrix: one row per page, one column per role."""
    rows = ["| page | " + " | ".join(ROLES) + " | what it shows |",
            "|---|" + "---|" * len(ROLES) + "---|"]
    for path, (roles, what) in CONSOLE_PAGES.items():
        cells = " | ".join("yes" if r == "admin" or r in roles else "—" for r in ROLES)
        rows.append(f"| `{path}` | {cells} | {what} |")
    return "\n".join(rows)


def matrix_markdown() -> str:
    """The README's role matrix: one row per endpoint, one column per role."""
    rows = ["| endpoint | " + " | ".join(ROLES) + " | country scope limits |",
            "|---|" + "---|" * len(ROLES) + "---|"]
    for (method, path), (roles, scope) in MATRIX.items():
        cells = " | ".join("yes" if r == "admin" or r in roles else "—" for r in ROLES)
        rows.append(f"| {method} `{path}` | {cells} | {scope} |")
    return "\n".join(rows)
