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
    ("GET", "/v1/audit/export"): (("regulator",),
                                  "events of numbers whose rounds are in that country, and "
                                  "that country's epoch commits"),
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


def matrix_markdown() -> str:
    """The README's role matrix: one row per endpoint, one column per role."""
    rows = ["| endpoint | " + " | ".join(ROLES) + " | country scope limits |",
            "|---|" + "---|" * len(ROLES) + "---|"]
    for (method, path), (roles, scope) in MATRIX.items():
        cells = " | ".join("yes" if r == "admin" or r in roles else "—" for r in ROLES)
        rows.append(f"| {method} `{path}` | {cells} | {scope} |")
    return "\n".join(rows)
