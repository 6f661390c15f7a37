"""The web console in a real browser: Debian's Chromium driven by Playwright, against the real
stack (the session's Anvil consortium and js-ipfs node, the API served by uvicorn on
loopback with its indexer following the chain).

Every page is checked with axe-core (from ``node_modules``, injected by the test) for serious
or critical violations. ``SPAMLEDGER_CONSOLE_SCREENSHOTS=DIR`` (``make screenshots``) saves
each page's screenshot there; otherwise they go to the test's temp directory.
"""

from __future__ import annotations

import itertools
import os
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from api import create_app, create_key, make_engine, migrate, session_scope
from tests.api.conftest import api_settings
from tests.api.console import write_keystore
from tests.api.scenario import (
    approved_model,
    commit_epoch,
    evidence_round,
    run_round,
    tamper_block,
)
from tests.conftest import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
_numbers = itertools.count(random.randrange(1000, 8000, 100))


def fresh_number() -> str:
    return f"+1415557{next(_numbers):04d}"


@dataclass
class Stack:
    base: str
    engine: Any
    data_dir: Path
    shots: Path

    def key(self, role: str, country: str = "*", signer: str = "") -> str:
        with session_scope(self.engine) as session:
            return create_key(session, role=role, country=country, name=f"{role} {country}",
                              signer=signer)


@pytest.fixture(scope="module")
def stack(consortium, ipfs_node, tmp_path_factory) -> Iterator[Stack]:
    """The API (console included) served by uvicorn in a thread on a free loopback port,
    with an indexer thread syncing the chain every 0.2 s; both stopped at the end."""
    import uvicorn

    from api import Chain, Evidence, Indexer
    from node import Ledger
    from node.ipfs import EvidenceStore

    data = tmp_path_factory.mktemp("console")
    settings = api_settings(data, ipfs_api=ipfs_node.api, api_rate_per_minute=10**6,
                            api_rate_burst=10**5, api_auth_failures_per_minute=10**6)
    engine = make_engine(f"sqlite:///{data / 'api.db'}")
    migrate(engine)
    store = EvidenceStore(ipfs_node.api, timeout=10.0)
    app = create_app(settings, engine=engine, run_migrations=False, evidence=Evidence(store),
                     chain=Chain(Ledger(consortium.w3, consortium.deployment),
                                 consortium.relayer))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, ws="none",
                                           lifespan="off", log_level="warning"))
    serving = threading.Thread(target=server.run, name="console-uvicorn")
    serving.start()
    stop = threading.Event()
    indexer = Indexer(consortium.w3, consortium.deployment, engine, block_range=200)
    indexing = threading.Thread(target=_follow, args=(indexer, stop), name="console-indexer")
    indexing.start()
    try:
        _wait(lambda: server.started, "uvicorn did not start")
        shots = Path(os.environ.get("SPAMLEDGER_CONSOLE_SCREENSHOTS") or data / "shots")
        shots.mkdir(parents=True, exist_ok=True)
        yield Stack(f"http://127.0.0.1:{port}", engine, data, shots)
    finally:
        stop.set()
        server.should_exit = True
        serving.join(30)
        indexing.join(30)
        store.close()
        engine.dispose()


def _follow(indexer, stop: threading.Event) -> None:
    while not stop.is_set():
        indexer.sync()
        stop.wait(0.2)


def _wait(condition, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(what)
        time.sleep(0.1)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium (``make browser`` installs it); closed at the end."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                              args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def open_page(browser) -> Iterator[Any]:
    """A factory of pages, each in its own browser context (its own cookies)."""
    contexts = []

    def make(**options: Any) -> Any:
        context = browser.new_context(accept_downloads=True, viewport={"width": 1280,
                                                                       "height": 900},
                                      **options)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def sign_in(page, stack: Stack, key: str, then: str = "/console/") -> None:
    page.goto(f"{stack.base}/console/sign-in?next={then}")
    page.fill("#api_key", key)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert "/console/sign-in" not in page.url, page.content()


def axe_serious(page) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations of the page as it is now."""
    page.evaluate(AXE.read_text() + "\n;0")
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [{"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


def check_page(page, stack: Stack, name: str) -> None:
    """No serious accessibility violation; the screenshot saved."""
    assert axe_serious(page) == [], name
    page.screenshot(path=str(stack.shots / f"{name}.png"), full_page=True)


def reload_until(page, text: str, timeout: float = 30.0) -> None:
    """Reload until ``text`` is on the page (the indexer follows the chain every 0.2 s)."""
    deadline = time.monotonic() + timeout
    while text not in page.content():
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} never appeared on {page.url}")
        time.sleep(0.3)
        page.reload()


def checks_until(page, text: str, timeout: float = 60.0) -> None:
    """Reload until the verification fragment, loaded after first paint, says ``text``."""
    deadline = time.monotonic() + timeout
    while True:
        page.wait_for_selector("#verdict", timeout=timeout * 1000)
        if text in page.inner_text("#verdict"):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} never in the verdict: {page.inner_text('#verdict')}")
        time.sleep(0.3)
        page.reload()


def test_regulator_audits_a_number_from_search_to_export_then_sees_tampering(
        stack, consortium, ipfs_node, open_page):
    number = fresh_number()
    store = ipfs_node.store()
    try:
        marker = evidence_round(consortium, store, number)
    finally:
        store.close()
    page = open_page()
    page.goto(f"{stack.base}/console/audit")
    assert "/console/sign-in" in page.url
    check_page(page, stack, "sign-in")
    sign_in(page, stack, stack.key("regulator"), "/console/audit")
    page.fill("#number", number)
    page.press("#number", "Enter")
    checks_until(page, "All ")
    results = page.locator("table.checks .result").all_inner_texts()
    assert len(results) >= 10 and set(results) == {"Passed"}
    assert "VoteCast" in page.inner_text("table.timeline")
    check_page(page, stack, "audit")
    with page.expect_download() as json_download:
        page.click("text=JSON")
    exported = Path(json_download.value.path()).read_text()
    assert '"verified": true' in exported
    with page.expect_download() as csv_download:
        page.click("text=CSV")
    assert Path(csv_download.value.path()).read_text().count("\ncheck,") == len(results)

    tamper_block(ipfs_node.settings.data_dir, marker, "US")
    checks_until(page, "checks failed")
    failed = page.locator("table.checks tr.bad th").all_inner_texts()
    assert len(failed) == 1 and failed[0].startswith("evidence: vote")
    assert "Tampered" in page.inner_text("table.checks tr.bad")
    assert "checks failed" in page.inner_text("#verdict")
    check_page(page, stack, "audit-tampered")


def test_business_files_a_dispute_two_arbiters_uphold_it_business_sees_it(
        stack, consortium, open_page, tmp_path):
    number = fresh_number()
    run_round(consortium, consortium.hasher.key(number), "US",
              {"US": 9000, "IN": 9000, "BR": 8000}, approved_model(consortium, "browser"))
    business = open_page()
    sign_in(business, stack, stack.key("business", "US"), "/console/business")
    reload_until(business, "File a dispute")
    business.fill("#lookup-number", number)
    business.press("#lookup-number", "Enter")
    reload_until(business, "<dd>spam</dd>")
    assert "Limits: at most 10 files" in business.inner_text("#limits")
    check_page(business, stack, "business")
    pdf = tmp_path / "licence.pdf"
    pdf.write_bytes(b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n")
    business.fill("#d-number", number)
    business.fill("#d-business", "Corner Bakery Ltd")
    business.set_input_files("#evidence", str(pdf))
    assert "licence.pdf" in business.inner_text("#chosen")
    business.click("#file-dispute")
    business.wait_for_url("**/console/business/disputes/**")
    dispute_id = int(business.url.split("?")[0].rsplit("/", 1)[1])
    reload_until(business, "Status: open")

    for cc, account in consortium.arbiters.items():
        write_keystore(stack.data_dir, f"arbiter-{cc.lower()}", account)
        arbiter = open_page()
        sign_in(arbiter, stack, stack.key("telco", cc, signer=f"arbiter-{cc.lower()}"),
                "/console/arbiter")
        button = f"text=Uphold dispute #{dispute_id}"
        reload_until(arbiter, f"Uphold dispute #{dispute_id}")
        if cc == "DE":
            check_page(arbiter, stack, "arbiter")
            href = arbiter.get_attribute("text=licence.pdf", "href")
            viewer = arbiter.context.new_page()
            shown = viewer.goto(stack.base + str(href))
            assert shown is not None and shown.status == 200
            assert shown.headers["content-type"] == "application/pdf"
            fetched = arbiter.context.request.get(stack.base + str(href))  # same cookies
            assert fetched.body().startswith(b"%PDF-1.4") and fetched.headers[
                "x-evidence-cid-verified"] in str(href)
            viewer.close()
        arbiter.click(button)
        arbiter.wait_for_selector("#done")
        assert f"dispute {dispute_id}: voted" in arbiter.inner_text("#done")
    assert "now upheld" in arbiter.inner_text("#done")

    reload_until(business, "Status: upheld")
    assert "not_spam" in business.inner_text("#registry-record")
    assert business.locator("text=uphold").count() >= 2
    check_page(business, stack, "business-dispute")


def test_operator_approves_another_countrys_model(stack, consortium, open_page):
    model = os.urandom(32)
    v = consortium.validators
    consortium.ledger.transact("ModelRegistry", "registerModel", model, "bafymetricsbrowser",
                               account=v["BR"])
    write_keystore(stack.data_dir, "operator-gb", v["GB"])
    page = open_page()
    sign_in(page, stack, stack.key("telco", "GB", signer="operator-gb"), "/console/operator")
    label = f"Approve BR model 0x{model.hex()[:8]}"
    reload_until(page, label)
    check_page(page, stack, "operator")
    page.click(f"text={label}")
    page.wait_for_selector("#done")
    assert "approved model" in page.inner_text("#done")
    assert consortium.ledger.call("ModelRegistry", "hasApproved", v["BR"].address, model,
                                  v["GB"].address) is True


def test_operator_sees_votes_pending_and_score_drift(stack, consortium, ipfs_node, open_page):
    import numpy as np

    from api import load_pending_epochs
    from api._chain import Evidence
    from api._models import Epoch
    from spamledger._drift import score_histogram

    rng = np.random.default_rng(17)
    store = ipfs_node.store()
    try:
        card = store.put_json({"model_hash": "browser-drift", "countries": {"*": {
            "precision": 0.95, "recall": 0.8,
            "score_histogram": score_histogram(rng.beta(0.5, 6.0, 4000))}}})
        model = approved_model(consortium, "browser-drift", metrics_cid=card)
        week = [int(s) for s in rng.beta(0.7, 4.0, 600) * 10_000]
        epoch = commit_epoch(consortium, store, "GB", week, model)
        owed = consortium.hasher.key(fresh_number())
        run_round(consortium, owed, "GB", {"IN": 9000, "BR": 8000}, model, finalize=False)

        def loaded() -> bool:
            load_pending_epochs(stack.engine, Evidence(store), limit=50)
            with session_scope(stack.engine) as session:
                row = session.query(Epoch).filter_by(country="GB", epoch=epoch).first()
                return row is not None and row.leaves_status == "loaded"

        _wait(loaded, f"GB epoch {epoch} was never indexed and loaded", timeout=60)
    finally:
        store.close()
    write_keystore(stack.data_dir, "operator-gb", consortium.validators["GB"])
    page = open_page()
    sign_in(page, stack, stack.key("telco", "GB", signer="operator-gb"), "/console/operator")
    reload_until(page, f"0x{owed.hex()}")
    assert page.locator(f'#pending code[title="0x{owed.hex()}"]').count() == 1
    assert page.locator(f'#voted code[title="0x{owed.hex()}"]').count() == 0
    check_page(page, stack, "operator-votes")
    _tab_to(page, "", text="Score drift per country", most=400)  # the keyboard alone
    page.keyboard.press("Enter")
    page.wait_for_selector("#drift .psi")
    assert page.locator("nav a[aria-current=page]").all_inner_texts() == ["Drift"]
    assert f"epoch {epoch} (block" in page.inner_text("#drift")
    assert page.locator("#drift svg[role=img] rect").count() == 20
    assert "600 numbers scored" in page.inner_text("#drift")
    check_page(page, stack, "operator-drift")


def test_regulator_consortium_and_activity_pages(stack, open_page):
    page = open_page()
    sign_in(page, stack, stack.key("regulator"), "/console/consortium")
    page.wait_for_selector("#parameters th:has-text('quorum-bps')")
    assert page.locator("h2", has_text="Validators").count() == 1
    check_page(page, stack, "consortium")
    page.goto(f"{stack.base}/console/activity")
    assert page.locator("svg[role=img]").count() >= 1
    check_page(page, stack, "activity")


def test_telco_key_cannot_open_regulator_pages(stack, open_page):
    page = open_page()
    sign_in(page, stack, stack.key("telco", "US"))
    assert page.locator("nav >> text=Number audit").count() == 0
    for path in ("/console/audit", "/console/consortium", "/console/activity"):
        response = page.goto(stack.base + path)
        assert response is not None and response.status == 403, path
        assert "may not open this page" in page.inner_text("main")
    check_page(page, stack, "forbidden")


def test_a_form_without_its_csrf_token_is_refused(stack, open_page):
    page = open_page()
    sign_in(page, stack, stack.key("regulator"))
    page.evaluate("() => document.querySelector('form[action=\"/console/sign-out\"] "
                  "input[name=csrf]').remove()")
    with page.expect_response("**/console/sign-out") as posted:
        page.click("text=Sign out")
    assert posted.value.status == 403
    assert "missing CSRF token" in page.inner_text("main")
    page.goto(f"{stack.base}/console/")
    assert "/console/sign-in" not in page.url  # still signed in: nothing happened


def test_keyboard_alone_signs_in_searches_and_signs_out(stack, consortium, open_page):
    page = open_page()
    page.goto(f"{stack.base}/console/sign-in?next=/console/audit")
    _tab_to(page, "api_key")
    page.keyboard.type(stack.key("regulator"))
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "sign-in" not in url and url.endswith("/console/audit"))
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"
    _tab_to(page, "number")
    page.keyboard.type(fresh_number())
    page.keyboard.press("Enter")
    page.wait_for_selector("#verdict")
    _tab_to(page, "", text="Sign out")
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/sign-in**")


def _tab_to(page, element_id: str, text: str = "", most: int = 40) -> None:
    """Press Tab until the focused element has ``element_id`` (or ``text``)."""
    for _ in range(most):
        page.keyboard.press("Tab")
        focused = page.evaluate("() => [document.activeElement.id, "
                                "document.activeElement.textContent.trim()]")
        if (element_id and focused[0] == element_id) or (text and focused[1] == text):
            return
    raise AssertionError(f"Tab never reached {element_id or text!r}")


def test_the_axe_check_finds_serious_violations_when_there_are_some(open_page):
    page = open_page()
    page.set_content("<html><body><img src='x.png'><input type='text'></body></html>")
    found = {v["id"] for v in axe_serious(page)}
    assert {"image-alt", "label", "html-has-lang"} <= found
