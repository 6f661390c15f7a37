"""The web console against the real stack: Anvil consortium, js-ipfs, each database.

Regulator audit (every check, then a tampered evidence block failing), a business dispute
voted through by two arbiters in their pages, an operator approving another country's model,
the votes its validator still owes, and score drift against a model card read from IPFS.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import random
import re

from api import create_key, session_scope
from tests.api.console import sign_in, write_keystore
from tests.api.scenario import approved_model, cast, commit_epoch, run_round, tamper_block

_numbers = itertools.count(random.randrange(1000, 8000, 100))


def fresh_number() -> str:
    return f"+1415556{next(_numbers):04d}"


def key_of(engine, role: str, country: str = "*", signer: str = "") -> str:
    with session_scope(engine) as session:
        return create_key(session, role=role, country=country, name=f"{role}-{country}",
                          signer=signer)


def _checks(html: str) -> list[tuple[str, str]]:
    """(check name, Passed/Failed) of each row of the checks table."""
    table = html.split('class="checks"')[1].split("</table>")[0]
    return re.findall(r'<th scope="row">([^<]+)</th>\s*<td><span class="result \w+">(\w+)<',
                      table)


def test_regulator_audit_shows_every_check_then_the_tampered_one_failing(
        chain_app, consortium, engine, ipfs_node):
    client, indexer, store = chain_app
    number = fresh_number()
    marker = f"console-{number}-{random.random()}"
    cids = {cc: store.put_json({"country": cc, "marker": marker, "features": {"calls": 900}})
            for cc in ("US", "IN", "BR")}
    run_round(consortium, consortium.hasher.key(number), "US",
              {"US": 9000, "IN": 8000, "BR": 7000}, approved_model(consortium, "console"),
              cids=cids)
    indexer.sync()
    sign_in(client, key_of(engine, "regulator"))

    page = client.get("/console/audit", params={"number": number})
    assert page.status_code == 200 and 'data-fragment="/console/audit/checks?number=' in page.text
    for event in ("RoundOpened", "VoteCast", "RoundFinalized", "RecordFinalized"):
        assert f"<td>{event}</td>" in page.text
    fragment = client.get("/console/audit/checks", params={"number": number}).text
    inline = client.get("/console/audit", params={"number": number, "inline": 1}).text
    assert _checks(inline) == _checks(fragment)
    checks = _checks(fragment)
    names = [n.split(":")[0] for n, _ in checks]
    assert names.count("signature") == 3 and names.count("evidence") == 3
    assert {"tally", "registry record", "served record = chain record"} <= set(names)
    assert {r for _, r in checks} == {"Passed"}
    assert f"All {len(checks)} checks passed" in fragment
    exported = json.loads(client.get("/console/audit/export.json",
                                      params={"number": number}).text)
    assert exported["verified"] is True and len(exported["checks"]) == len(checks)
    assert sorted(cids.values()) == sorted(r["evidence_cid"] for r in exported["timeline"]
                                           if r["event"] == "VoteCast")

    tamper_block(ipfs_node.settings.data_dir, marker, "US")
    fragment = client.get("/console/audit/checks", params={"number": number}).text
    failed = [n for n, r in _checks(fragment) if r == "Failed"]
    assert len(failed) == 1 and failed[0].startswith("evidence: vote")
    assert "1 of" in fragment and "checks failed" in fragment
    rows = list(csv.DictReader(io.StringIO(client.get("/console/audit/export.csv",
                                                      params={"number": number}).text)))
    bad = [r for r in rows if r["section"] == "check" and r["ok"] == "False"]
    assert len(bad) == 1 and "Tampered" in bad[0]["detail"]


def test_business_dispute_voted_through_by_two_arbiters_in_their_pages(
        chain_app, consortium, engine, tmp_path):
    client, indexer, _store = chain_app
    number = fresh_number()
    run_round(consortium, consortium.hasher.key(number), "US",
              {"US": 9000, "IN": 9000, "BR": 8000}, approved_model(consortium, "cdispute"))
    indexer.sync()
    for cc, account in consortium.arbiters.items():
        write_keystore(tmp_path, f"arbiter-{cc.lower()}", account)
    business = key_of(engine, "business", "US")
    csrf = sign_in(client, business)
    filed = client.post("/console/business/disputes",
                        data={"csrf": csrf, "number": number, "business": "Bakery Ltd"},
                        files=[("evidence", ("licence.pdf", b"%PDF-1.4 licence",
                                             "application/pdf"))], follow_redirects=False)
    assert filed.status_code == 303, filed.text
    follow = filed.headers["location"].split("?")[0]
    dispute_id = int(follow.rsplit("/", 1)[1])
    indexer.sync()
    assert "Status: open" in client.get(follow).text

    for cc in consortium.arbiters:
        client.cookies.clear()
        csrf = sign_in(client, key_of(engine, "telco", cc, signer=f"arbiter-{cc.lower()}"))
        page = client.get("/console/arbiter").text
        assert f"Uphold dispute #{dispute_id}" in page and "licence.pdf" in page
        voted = client.post(f"/console/arbiter/disputes/{dispute_id}/vote",
                            data={"csrf": csrf, "choice": "uphold"})
        assert voted.status_code == 200 and f"dispute {dispute_id}: voted" in voted.text
        indexer.sync()
    assert "the dispute is now upheld" in voted.text

    client.cookies.clear()
    sign_in(client, key_of(engine, "business", "US"))
    assert client.get(follow).status_code == 403  # another business key
    client.cookies.clear()
    sign_in(client, business)
    page = client.get(follow).text
    assert "Status: upheld" in page and "<dd>not_spam</dd>" in page
    assert "uphold</td><td>1000" in page


def test_operator_approves_another_countrys_model_signed_server_side(
        chain_app, consortium, engine, tmp_path):
    import os

    client, indexer, _store = chain_app
    ledger, v = consortium.ledger, consortium.validators
    model = os.urandom(32)
    ledger.transact("ModelRegistry", "registerModel", model, "bafymetricsconsole",
                    account=v["IN"])
    indexer.sync()
    write_keystore(tmp_path, "operator-us", v["US"])
    csrf = sign_in(client, key_of(engine, "telco", "US", signer="operator-us"))
    page = client.get("/console/operator").text
    label = f"Approve IN model 0x{model.hex()[:8]}"
    assert label in page
    approved = client.post("/console/operator/models/approve",
                           data={"csrf": csrf, "owner": v["IN"].address,
                                 "model_hash": "0x" + model.hex()})
    assert approved.status_code == 200 and "approved model" in approved.text
    assert ledger.call("ModelRegistry", "hasApproved", v["IN"].address, model,
                       v["US"].address) is True
    indexer.sync()  # the page reads approvals from the index
    after = client.get("/console/operator").text
    row = re.search(rf'<code title="0x{model.hex()}">.*?</tr>', after, re.S)
    assert row and label not in after
    assert row.group(0).rsplit("<td>", 1)[1].split()[0] == "approved"  # the US column

    keyless = key_of(engine, "telco", "GB")
    client.cookies.clear()
    csrf = sign_in(client, keyless)
    refused = client.post("/console/operator/models/approve",
                          data={"csrf": csrf, "owner": v["IN"].address,
                                "model_hash": "0x" + model.hex()})
    assert refused.status_code == 403 and "no signer keystore" in refused.text


def test_activity_charts_count_finalized_rounds_and_respect_the_country_scope(
        chain_app, consortium, engine):
    client, indexer, _store = chain_app
    run_round(consortium, consortium.hasher.key(fresh_number()), "US",
              {"US": 9000, "IN": 9000, "BR": 8000}, approved_model(consortium, "activity"))
    indexer.sync()
    sign_in(client, key_of(engine, "regulator"))
    page = client.get("/console/activity").text
    bars = re.findall(r"<title>(\d{4}-\d\d-\d\d) · spam: (\d+)</title>", page)
    assert bars and sum(int(n) for _, n in bars) >= 1
    consortium_page = client.get("/console/consortium").text
    for cc in ("US", "IN", "BR", "GB", "FR"):
        assert f"<td>{cc}</td>" in consortium_page
    assert 'data-fragment="/console/consortium/parameters"' in consortium_page
    for page in (client.get("/console/consortium/parameters").text,
                 client.get("/console/consortium", params={"inline": 1}).text):
        assert re.search(r'<th scope="row">quorum-bps</th><td>Consensus</td><td>\d+</td>',
                         page)

    client.cookies.clear()
    sign_in(client, key_of(engine, "regulator", "GB"))
    scoped = client.get("/console/activity").text
    assert "Activity · GB" in scoped and "· spam:" not in scoped


def _load_epochs(engine, store) -> None:
    """Index the chain's epochs and load every due one (other tests' epochs included)."""
    from api import load_pending_epochs
    from api._chain import Evidence

    while load_pending_epochs(engine, Evidence(store), limit=50):
        pass


def test_operator_sees_the_votes_its_validator_owes_apart_from_those_it_cast(
        chain_app, consortium, engine, tmp_path):
    client, indexer, _store = chain_app
    model = approved_model(consortium, "pending")
    owed, cast_in, contested = (consortium.hasher.key(fresh_number()) for _ in range(3))
    run_round(consortium, owed, "US", {"IN": 9000, "BR": 8000}, model, finalize=False)
    run_round(consortium, cast_in, "US", {"US": 8100, "IN": 9000}, model, finalize=False)
    contested_round = run_round(consortium, contested, "US", {"IN": 9000}, model,
                                finalize=False)
    cast(consortium, contested, contested_round, "US", "GB", 7000, model)
    indexer.sync()
    write_keystore(tmp_path, "operator-us", consortium.validators["US"])
    sign_in(client, key_of(engine, "telco", "US", signer="operator-us"))
    page = client.get("/console/operator").text
    pending = page.split('<table id="pending"')[1].split("</table>")[0]
    voted = page.split('<table id="voted"')[1].split("</table>")[0]
    assert f"0x{owed.hex()}" in pending
    assert f"0x{cast_in.hex()}" not in pending and f"0x{contested.hex()}" not in pending
    row = re.search(rf'<code title="0x{cast_in.hex()}">.*?</tr>', voted, re.S)
    assert row and "score 8100" in row.group(0)
    row = re.search(rf'<code title="0x{contested.hex()}">.*?</tr>', voted, re.S)
    assert row and "signed for GB: contests the round's country" in row.group(0)
    assert "not an active validator" not in page  # the seat is read from the chain

    client.cookies.clear()
    write_keystore(tmp_path, "operator-in", consortium.validators["IN"])
    sign_in(client, key_of(engine, "telco", "US", signer="operator-in"))
    page = client.get("/console/operator").text
    voted = page.split('<table id="voted"')[1].split("</table>")[0]
    assert f"0x{owed.hex()}" in voted and f"0x{contested.hex()}" in voted


def test_operator_drift_compares_the_weeks_epoch_with_the_model_cards_histogram(
        chain_app, consortium, engine):
    from spamledger._drift import bin_counts, ks_distance, psi, score_histogram

    client, indexer, store = chain_app
    trained = score_histogram([0.005] * 60 + [0.03] * 20 + [0.4] * 10 + [0.95] * 10)
    card = store.put_json({"model_hash": "drift", "countries": {
        "*": {"precision": 0.9, "recall": 0.8, "score_histogram": trained}}})
    week = [50] * 30 + [300] * 30 + [4000] * 20 + [9500] * 20
    fr = commit_epoch(consortium, store, "FR",  week,
                      approved_model(consortium, "drift", metrics_cid=card))
    old_card = store.put_json({"model_hash": "old", "countries": {
        "*": {"precision": 0.9, "recall": 0.8}}})
    gb = commit_epoch(consortium, store, "GB", [100, 9000],
                      approved_model(consortium, "drift-old", metrics_cid=old_card))
    indexer.sync()
    _load_epochs(engine, store)

    sign_in(client, key_of(engine, "telco", "FR"))
    page = client.get("/console/operator/drift/charts").text
    assert 'id="drift-GB-h"' not in page  # the key's country only
    counts = bin_counts(trained["edges"], [(s / 10_000, 1) for s in week])
    assert f"epoch {fr} (block" in page and "100 numbers scored" in page
    assert f'<dd class="psi">{psi(trained["counts"], counts):.3f}: large shift</dd>' in page
    assert f'<dd class="ks">{ks_distance(trained["counts"], counts):.3f} ' in page
    table = page.split('<table>')[1].split("</table>")[0]
    rows = re.findall(r'<th scope="row">([^<]+)</th><td>(\d+)</td><td>[^<]+</td><td>(\d+)</td>',
                      table)
    assert [(int(t), int(w)) for _, t, w in rows] == list(zip(trained["counts"], counts,
                                                              strict=True))
    assert page.count("<rect") == 2 * len(counts) and "· this week: 30.0 % (30)" in page
    assert client.get("/console/operator/drift", params={"inline": 1}).text.count(
        '<dd class="psi">') == 1

    client.cookies.clear()
    sign_in(client, key_of(engine, "telco", "GB"))
    page = client.get("/console/operator/drift/charts").text
    assert f"epoch {gb} (block" in page and "no training distribution recorded" in page
    assert "<svg" not in page

    # every country, including a model whose registered card "CID" is no CID at all
    commit_epoch(consortium, store, "IN", [100, 9000], approved_model(consortium, "nocard"))
    indexer.sync()
    _load_epochs(engine, store)
    client.cookies.clear()
    sign_in(client, key_of(engine, "telco"))
    every = client.get("/console/operator/drift/charts")
    assert every.status_code == 200
    sections = dict(re.findall(r'<h2 id="drift-(\w\w)-h">\w\w</h2>(.*?)</section>',
                               every.text, re.S))
    assert {"FR", "GB", "IN"} <= set(sections) and '<dd class="psi">' in sections["FR"]
    assert "model card bafymetricsnocard unreachable" in sections["IN"]
    assert "is not a content identifier" in sections["IN"]
    for cc, section in sections.items():
        assert '<dd class="psi">' in section or 'class="notice"' in section, cc


def test_evidence_with_a_malformed_cid_is_refused_with_a_reason(chain_app, engine):
    client, _indexer, _store = chain_app
    sign_in(client, key_of(engine, "telco"))
    response = client.get("/console/evidence/bafynotarealcid0000")
    assert response.status_code == 422 and "is not a content identifier" in response.text
