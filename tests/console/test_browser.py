"""The consoles in a real browser (headless Debian chromium, 1366x768): a synthetic person enrolled through the
station's pages, a duplicate caught by the centre and resolved on the adjudication page, and actions refused
to the wrong role, on the server, with the rule's citation. Screenshots of the station capture page, the
adjudication page and the auditor page go to $PAPILLA_CONSOLE_SCREENSHOTS when set (docs/img/ was made so)."""
from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import expect

from papilla.shared.crypto.iin import birth_date_from_iin, make_test_iin

pytestmark = [pytest.mark.broker, pytest.mark.browser]
BIRTH = date(1990, 5, 17)
FIRST_IIN, SECOND_IIN = make_test_iin(BIRTH, False, 15), make_test_iin(BIRTH, False, 27)
DECISION_WAIT_MS = 240_000


def screenshot(page, name: str, tmp_path: Path) -> None:
    target = Path(os.environ.get("PAPILLA_CONSOLE_SCREENSHOTS") or tmp_path)
    target.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target / f"console-{name}.png"), full_page=True)


def sign_in(page, base: str, principal_id: str) -> None:
    page.goto(f"{base}/signin")
    page.fill("#principal_id", principal_id)
    page.click("form[action='/signin'] button")


def start_enrollment(page, world, iin: str, folder: str, consent_ref: str, name: str = "Aigerim Seitkali") -> None:
    """Identity (IIN checked as typed), the legal decision with its citation, consent, then capture starts."""
    birth = birth_date_from_iin(iin).isoformat()
    page.goto(f"{world.station_url}/enroll")
    page.fill("#iin", iin)
    expect(page.locator("#iin-check [data-iin='valid']")).to_contain_text(birth)   # checked as it is typed
    page.fill("#full_name", name)
    page.fill("#document_number", "045123987")
    page.fill("#document_birth_date", birth)
    page.click("#identity-continue")
    expect(page.locator("[data-citation]")).to_have_text("Rules 406, p.4")     # the decision before capture
    page.fill("#consent_ref", consent_ref)
    page.check("#conditions_explained")
    page.select_option("#folder", folder)
    page.click("#start-capture")


def enroll(page, world, iin: str, folder: str, consent_ref: str) -> dict:
    """An enrollment through the station's pages up to the centre's decision; the receipt's facts."""
    start_enrollment(page, world, iin, folder, consent_ref)
    decided = page.locator("[data-centre-decision]:not([data-centre-decision=''])")
    decided.wait_for(timeout=DECISION_WAIT_MS)
    qualities = [int(q) for q in page.locator("[data-quality]").all_inner_texts()]
    return {"packet": page.locator("[data-packet]").inner_text(), "status": decided.get_attribute("data-centre-decision"),
            "decision": decided.inner_text(), "rule": page.locator("[data-receipt-rule]").inner_text(),
            "qualities": qualities}


@pytest.fixture(scope="module")
def first_enrollment(world, browser):
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    sign_in(page, world.station_url, "op-console-07")
    receipt = enroll(page, world, FIRST_IIN, "aigerim", "FORM-2026-000123")
    receipt["page"] = page
    yield receipt
    context.close()


def test_an_operator_enrolls_a_person_through_the_station_pages(first_enrollment, tmp_path):
    receipt = first_enrollment
    assert receipt["status"] == "ACTIVE", receipt["decision"]
    assert receipt["rule"] == "Rules 406, p.4"
    assert re.fullmatch(r"st-console-01-\d{8}-[0-9a-f]{16}", receipt["packet"])
    assert len(receipt["qualities"]) == 10 and min(receipt["qualities"]) >= 20     # ten fingers over the gate
    page = receipt["page"]
    expect(page.locator(".finger img")).to_have_count(10)                          # each finger's preview
    screenshot(page, "station-capture", tmp_path)
    page.goto(page.url.split("/enroll")[0] + "/spool")
    expect(page.locator("[data-spool-packets]")).to_have_text("0")                  # nothing left in the spool


def test_a_finger_below_the_gate_is_recorded_as_an_exception_with_its_reason(world, new_page):
    page = new_page()
    sign_in(page, world.station_url, "op-console-07")
    start_enrollment(page, world, make_test_iin(date(1985, 3, 2), True, 41), "samal", "FORM-2026-000200",
                     name="Samal Nurlanovna")
    page.locator("#below-gate").wait_for(timeout=DECISION_WAIT_MS)       # 3 captures of a blank frame
    expect(page.locator("#below-gate h2")).to_contain_text("Finger 5")
    expect(page.locator(".finger[data-position='5']")).to_have_class(re.compile(r"\blow\b"))
    page.select_option("#exc-status", "injured")
    page.click("#below-gate button:has-text('Exception')")
    page.locator("#receipt").wait_for(timeout=DECISION_WAIT_MS)
    row = page.locator("#receipt tbody tr", has_text="5 (right little)")
    expect(row).to_contain_text("injured (Rules 406, p.7)")
    expect(row).to_contain_text("3")                                      # the captures tried
    expect(page.locator("#receipt tbody tr", has_text="captured")).to_have_count(9)


def test_a_duplicate_is_caught_and_resolved_on_the_adjudication_page(world, first_enrollment, new_page, tmp_path):
    station = new_page()
    sign_in(station, world.station_url, "op-console-07")
    again = enroll(station, world, SECOND_IIN, "aigerim-again", "FORM-2026-000124")   # same fingers, other IIN
    assert again["status"] == "PENDING_REVIEW", again["decision"]

    centre = new_page()
    sign_in(centre, world.centre_url, "adj-console-01")
    centre.goto(f"{world.centre_url}/queue")
    row = centre.locator(f"tr[data-enrollment='{again['packet']}']")
    expect(row).to_have_count(1)
    row.get_by_role("link").click()
    fused = float(centre.locator("[data-fused]").inner_text())
    threshold = float(centre.locator("[data-threshold]").inner_text())
    assert fused >= threshold                                   # shown beside the threshold it was held against
    expect(centre.locator(".pair img")).to_have_count(20)       # both ten-prints side by side, minutiae drawn
    centre.wait_for_load_state("load")
    assert all(centre.locator(".pair img").evaluate_all("imgs => imgs.map(i => i.complete && i.naturalWidth > 0)"))
    assert centre.locator("[data-finger-score]").count() == 10
    pairs = centre.locator(".pairs img")                       # each finger's pair, paired minutiae joined
    expect(pairs).to_have_count(10)
    pairs.last.scroll_into_view_if_needed()
    widths = pairs.evaluate_all("imgs => Promise.all(imgs.map(i => i.decode().then(() => i.naturalWidth)))")
    assert min(widths) > 2 * 250, widths                        # two prints side by side in each
    screenshot(centre, "adjudication", tmp_path)
    centre.check("#d-same")
    centre.fill("#d-reason", "same ten-print as the ACTIVE record")
    centre.click("#sign-decision")
    expect(centre.locator("[data-result]")).to_have_attribute("data-result", "REJECTED")
    centre.goto(f"{world.centre_url}/queue")
    expect(centre.locator(f"tr[data-enrollment='{again['packet']}']")).to_have_count(0)

    auditor = new_page()                          # the decision is in the trail, signed by the adjudicator
    sign_in(auditor, world.centre_url, "aud-console-01")
    auditor.goto(f"{world.centre_url}/audit")
    expect(auditor.locator("[data-audit-ok]")).to_have_attribute("data-audit-ok", "True")
    auditor.fill("#subject", SECOND_IIN)          # POSTed: the IIN is never in a URL
    auditor.click("form[action='/audit/trail'] button")
    assert "/audit/trail" == auditor.url.split(world.centre_url)[1]
    adjudicated = auditor.locator("tr", has_text="adjudicated")
    expect(adjudicated).to_contain_text("adj-console-01")
    expect(auditor.locator("[data-subject]")).to_have_text(re.compile(r"sub-[0-9a-f]+"))


def test_actions_are_refused_to_the_wrong_role_on_the_server(world, new_page, tmp_path):
    auditor = new_page()
    sign_in(auditor, world.centre_url, "aud-console-01")
    response = auditor.goto(f"{world.centre_url}/queue")
    assert response.status == 403
    expect(auditor.locator("[data-refusal]")).to_contain_text("a principal with role auditor may not adjudicate")
    # the form is not offered, so send the POST itself, with the auditor's own session and CSRF token
    auditor.goto(f"{world.centre_url}/audit")
    token = auditor.locator("form[action='/audit/trail'] input[name=csrf]").get_attribute("value")
    refused = auditor.request.post(f"{world.centre_url}/queue/st-console-01-x/decision",
                                   form={"csrf": token, "decision": "distinct_person", "reason": "try"})
    assert refused.status == 403 and "may not adjudicate" in refused.text()
    forged = auditor.request.post(f"{world.centre_url}/audit/trail", form={"subject": "sub-x"})   # no CSRF token
    assert forged.status == 403 and "CSRF" in forged.text()

    adjudicator = new_page()
    sign_in(adjudicator, world.centre_url, "adj-console-01")
    assert adjudicator.goto(f"{world.centre_url}/audit").status == 403
    head = new_page()
    sign_in(head, world.centre_url, "hou-console-01")
    assert head.goto(f"{world.centre_url}/queue").status == 403

    branch_auditor = new_page()                   # a registered principal whose role may not enroll
    sign_in(branch_auditor, world.station_url, "aud-at-branch")
    response = branch_auditor.goto(f"{world.station_url}/enroll")
    assert response.status == 403
    expect(branch_auditor.locator("[data-refusal]")).to_contain_text("may not enroll")
    expect(branch_auditor.locator("[data-rule]")).to_have_text("Rules 406, p.3; Annex")

    stranger = new_page()                         # no key on this station: not signed in
    sign_in(stranger, world.station_url, "op-nobody")
    expect(stranger.locator(".refusal")).to_contain_text("no keys for op-nobody")

    auditor.goto(f"{world.centre_url}/audit")     # every refusal above is in the auditor's list
    refused_rows = auditor.locator("#refused tbody tr")
    expect(refused_rows.filter(has_text="adj-console-01")).not_to_have_count(0)
    expect(refused_rows.filter(has_text="role_not_permitted").first).to_be_visible()
    screenshot(auditor, "audit", tmp_path)


def test_the_branch_sends_a_persons_access_request_and_block_demand_and_shows_the_centres_answer(world, new_page,
                                                                                                   tmp_path):
    """Signed by the operator, sent by the branch's service, decided by the centre's lifecycle worker; a person
    not enrolled here (the other tests' person must stay in the gallery)."""
    someone = make_test_iin(date(1971, 3, 8), True, 55)
    operator = new_page()
    sign_in(operator, world.station_url, "op-console-07")
    operator.goto(f"{world.station_url}/applications")
    expect(operator.locator("#application option", has_text="not available")).to_have_count(0)

    def apply(kind: str) -> None:
        operator.select_option("#application", kind)
        operator.fill("#app-iin", someone)
        operator.select_option("#on_application_of", "subject")
        operator.fill("#reason", f"{kind} at the branch counter")
        operator.click("form[action='/applications'] button")

    apply("access_request")
    answer = operator.locator("[data-result]")
    expect(answer).to_have_attribute("data-result", "RECEIVED", timeout=60_000)
    expect(answer).to_contain_text("Rules 395, p.16")
    assert re.search(r"by \d{4}-\d{2}-\d{2} \(3 business days\)", answer.inner_text())
    screenshot(operator, "station-applications", tmp_path)
    apply("block_on_demand")
    expect(answer).to_have_attribute("data-result", "NOT_ENROLLED", timeout=60_000)
    assert someone not in operator.url
