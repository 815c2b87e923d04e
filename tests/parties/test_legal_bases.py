"""Every legal basis end to end, station and centre on their own 'machines' (issue 10, "What it must show").

The centre (its workers) and the station (`papilla station enroll`, one process per applicant) live in separate
PAPILLA_HOMEs, onboarded by request files, over the real RabbitMQ. One worker set serves every case:

* one synthetic applicant per basis of `papilla legal bases`, with a birth date that makes the basis apply and a
  legal representative where the law asks for one: the station's receipt names the rule that allowed the
  enrollment, and the centre's answer on the station's results queue carries the rule the centre allowed it under
  (decided again there);
* ineligible applicants are refused at the station, before capture, with the citation;
* a packet built and sealed by hand with a false "allowed" decision (the station bypassed) is refused again at
  the centre, and the refusal, with its citation, reaches the station.
"""
from __future__ import annotations

import base64
import dataclasses
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from papilla.client import RabbitResultWaiter, ResultOpener
from papilla.shared.broker import rabbitmq_broker, send
from papilla.shared.config import Settings
from papilla.shared.crypto import sealing
from papilla.shared.legal.bases import BASES
from papilla.shared.messages import DecisionRecord, EnrollmentPacket, Finger, encode
from papilla.shared.parties import load_centre_public_file, load_party
from papilla.shared.principals import sign
from papilla.shared.routing import ENROLL
from papilla.shared.store import open_store

from tests.helpers.harness import (FvcScanner, Vhost, clean_env, onboard_homes, papilla_cli, rabbit_reachable,
                                   start_worker, valid_iins, wait_until)
from tests.helpers.builders import enroll_flags, identity

pytestmark = pytest.mark.broker
STATION, OPERATOR = "st-karaganda-06", "op-karaganda-02"
STATION_2 = "st-karaganda-07"   # another counter of the same branch: its own results queue
LAW = "Law on dactyloscopic and genomic registration, "
TODAY = date.today()
ADULT, CHILD_13, CHILD_10 = date(1990, 5, 17), date(TODAY.year - 13, 1, 15), date(TODAY.year - 10, 1, 15)


@dataclasses.dataclass(frozen=True)
class Case:
    citizenship: str
    citation: str                  # the rule that allows it, as a lawyer reads it
    decision: str
    birth: date = ADULT
    present: tuple[str, ...] = ()  # --present ROLE=APPLICATION-REF


#: one applicant per basis; the test fails when a basis is added without a case here
CASES = {
    "public_service_authentication": Case("citizen", "Rules 406, p.4", "voluntary"),
    "id_document": Case("citizen", LAW + "Art.10 p.1", "allowed"),
    "passport_child_12_16": Case("citizen", LAW + "Art.10 p.4", "voluntary", CHILD_13,
                                 ("legal_representative=app-2026-0412",)),
    "seafarer": Case("citizen", LAW + "Art.10 p.2 sub.1", "mandatory"),
    "residence_permit": Case("foreigner", LAW + "Art.10 p.2 sub.2", "mandatory"),
    "residence_card": Case("stateless", LAW + "Art.10 p.2 sub.3", "mandatory"),
    "asylum_refugee": Case("foreigner", LAW + "Art.10 p.2 sub.4", "mandatory"),
    "deportation_readmission": Case("foreigner", LAW + "Art.10 p.2 sub.5", "mandatory"),
    "visa": Case("stateless", LAW + "Art.10 p.2 sub.6", "mandatory"),
}


@pytest.fixture(scope="module")
def world(tmp_path_factory, fvc_dir):
    if not rabbit_reachable():
        pytest.fail("RabbitMQ is not reachable on 127.0.0.1:5672")
    root = tmp_path_factory.mktemp("legal-bases")
    with Vhost() as url:
        env = clean_env(PAPILLA_BROKER_URL=url, PAPILLA_METRICS_PORT="0", PAPILLA_MIN_BACKOFF_MS="200")
        homes = onboard_homes(root, env, stations={STATION: OPERATOR, STATION_2: OPERATOR})
        station_settings = dataclasses.replace(Settings.from_env(), broker_url=url,
                                               station_key_dir=homes["station"] / "station")
        opener = ResultOpener(load_party(station_settings, STATION), load_centre_public_file(homes["public"]))
        waiter = RabbitResultWaiter(url, STATION, opener)     # the station's results queue
        workers = [start_worker(role, {**env, "PAPILLA_HOME": str(homes["centre"])}, root)
                   for role in ("extract", "match", "lifecycle")]
        store = open_store(f"sqlite:///{homes['centre'] / 'papilla.sqlite3'}")
        try:
            yield dict(homes=homes, env=env, url=url, waiter=waiter, settings=station_settings, store=store,
                       fvc=fvc_dir, root=root)
        finally:
            store.close()
            waiter.close()
            for worker in workers:
                worker.stop()


def one_finger(world, finger: str, db: str = "DB2_B") -> Path:
    """A folder with one image (finger position 1: FVC `db` `finger`, first impression)."""
    folder = world["root"] / f"images-{db}-{finger}"
    folder.mkdir(exist_ok=True)
    (folder / "1.tif").write_bytes((world["fvc"] / db / f"{finger}_1.tif").read_bytes())
    return folder


def station_enroll(world, basis: str, iin: str, citizenship: str, present: tuple[str, ...], images: Path,
                   *extra: str, station: str = STATION):
    args = ["station", "enroll", station, *extra, "--operator", OPERATOR, "--iin", iin, "--name", f"{basis} applicant",
            "--images", str(images), "--absent", "amputated", *enroll_flags(iin, consent_ref="form-2026-0099"),
            "--basis", basis, "--citizenship", citizenship]
    for item in present:
        args += ["--present", item]
    return papilla_cli(world["homes"]["station"], *args, env=world["env"], check=False)


def test_an_enrollment_under_each_legal_basis_carries_the_rule_that_allowed_it(world):
    assert set(CASES) == set(BASES), "every basis of `papilla legal bases` has an end-to-end case"
    iins = iter(valid_iins(ADULT, False, 300, len(CASES)))
    sent = {}
    for (basis, case), finger in zip(CASES.items(), ("101", "102", "103", "104", "105", "106", "107", "108", "109")):
        iin = valid_iins(case.birth, True, 300, 1)[0] if case.birth != ADULT else next(iins)
        done = station_enroll(world, basis, iin, case.citizenship, case.present, one_finger(world, finger))
        assert done.returncode == 0, (basis, done.stdout, done.stderr)
        receipt = f"{case.decision} under {BASES[basis].rule_id} ({case.citation})"
        assert receipt in done.stdout, (basis, done.stdout)                  # the station's receipt
        sent[basis] = done.stdout.split()[1].rstrip(":")
    for basis, packet_id in sent.items():
        result = world["waiter"].wait(packet_id, 180)                       # the centre's answer, at the station
        assert (result.status, result.rule) == ("ACTIVE", CASES[basis].citation), (basis, result)
        stored = world["store"].get("enrollments", packet_id)
        assert stored["legal_basis"] == basis
        assert (stored["decision"]["decision"], stored["decision"]["citation"]) == \
            (CASES[basis].decision, CASES[basis].citation), (basis, stored["decision"])


@pytest.mark.parametrize("basis,birth,citizenship,present,sentence", [
    ("id_document", CHILD_10, "citizen", (), "children under 12 are not registered (" + LAW + "Art.10-1 p.1 sub.1)"),
    ("passport_child_12_16", CHILD_13, "citizen", (), f"({LAW}Art.11 p.2)"),
    ("residence_permit", ADULT, "citizen", (), f"foreigners and stateless persons only ({LAW}Art.10 p.2 sub.2)"),
    ("public_service_authentication", CHILD_13, "citizen", (), "the applicant is under 18 (Rules 406, p.4)"),
])
def test_an_ineligible_applicant_is_refused_at_the_station_with_the_rule(world, basis, birth, citizenship, present,
                                                                      sentence):
    iin = valid_iins(birth, False, 500, 1)[0]
    spool = world["homes"]["station"] / "spool" / STATION
    before = set(spool.glob("*")) if spool.exists() else set()
    done = station_enroll(world, basis, iin, citizenship, present, one_finger(world, "110"))
    assert done.returncode == 2 and done.stderr.startswith("refused: ") and sentence in done.stderr, done.stderr
    assert done.stderr.strip().count("\n") == 0 and iin not in done.stderr
    assert (set(spool.glob("*")) if spool.exists() else set()) == before      # nothing sealed, nothing sent


def test_a_hand_sealed_packet_with_a_false_decision_is_refused_at_the_centre_and_the_station_hears_why(world):
    """The station bypassed: a ten-year-old sealed under id_document with a forged 'allowed' decision."""
    now, packet_id = datetime.now(timezone.utc), "st-karaganda-06-bypass-0001"
    image = FvcScanner(world["fvc"] / "DB2_B", {1: "110_2"}).capture(1)
    packet = EnrollmentPacket(
        packet_id=packet_id, station_id=STATION, operator_id=OPERATOR, captured_at=now, purpose="id_document",
        decision=DecisionRecord(decision="allowed", rule="id_document_with_consent", citation=LAW + "Art.10 p.1"),
        **identity(valid_iins(CHILD_10, True, 600, 1)[0], "Bypass Child", operator_id=OPERATOR, signed_on=now,
                   purpose="id_document"),
        fingers=[Finger(position=1, status="captured", image=image.png, format="png", dpi=image.dpi)]
        + [Finger(position=p, status="amputated") for p in range(2, 11)])
    packet = sign(packet, "operator_signature", load_party(world["settings"], OPERATOR).signing)
    station = load_party(world["settings"], STATION)
    sealed = sealing.seal(encode(packet), sender_id=STATION, packet_id=packet_id, signing_key=station.signing,
                          centre_public=load_centre_public_file(world["homes"]["public"]).box)
    broker = rabbitmq_broker(world["settings"])
    try:
        send(broker, ENROLL, base64.b64encode(sealed).decode())
    finally:
        broker.close()
    result = world["waiter"].wait(packet_id, 180)
    assert (result.status, result.reason, result.rule) == ("REFUSED", "child_under_12", LAW + "Art.10-1 p.1 sub.1")
    assert world["store"].get("enrollments", packet_id) is None


def test_answers_to_packets_nobody_waited_for_wait_on_the_station_queue_and_are_shown_by_station_answers(world):
    """`enroll` without --wait, then one with --wait: the waiting one prints only its own decision and leaves
    the others' answers in the queue, where `papilla station answers` shows each with its rule, once."""
    iins = valid_iins(ADULT, True, 700, 3)
    unwaited = []
    for iin, finger in zip(iins[:2], ("101", "102")):
        done = station_enroll(world, "public_service_authentication", iin, "citizen", (),
                              one_finger(world, finger, "DB3_B"), station=STATION_2)
        assert done.returncode == 0, done.stderr
        unwaited.append(done.stdout.split()[1].rstrip(":"))
    waited = station_enroll(world, "public_service_authentication", iins[2], "citizen", (),
                            one_finger(world, "103", "DB3_B"), "--wait", "180", station=STATION_2)
    assert waited.returncode == 0, waited.stderr
    assert "enrollment ACTIVE under Rules 406, p.4" in waited.stdout
    shown: list[str] = []

    def answered() -> bool:
        done = papilla_cli(world["homes"]["station"], "station", "answers", STATION_2, "--wait", "5", env=world["env"])
        shown.extend(done.stdout.splitlines())
        return all(any(line.startswith(f"packet {p}:") for line in shown) for p in unwaited)

    assert wait_until(answered, 180), shown
    for packet_id in unwaited:
        assert f"packet {packet_id}: enrollment ACTIVE under Rules 406, p.4" in shown
    assert not any(waited.stdout.split()[1].rstrip(":") in line for line in shown)   # taken by --wait, once
    again = papilla_cli(world["homes"]["station"], "station", "answers", STATION_2, env=world["env"])
    assert again.stdout.strip() == "no answers waiting"


def test_a_mandatory_category_is_registered_without_a_consent_form_and_a_voluntary_one_is_not(world):
    """Law Art.10 p.2 registers its categories by force of law: no consent form, none recorded at the centre;
    the same applicant under a voluntary basis is refused for want of one, at the station."""
    iin = valid_iins(ADULT, False, 800, 1)[0]
    flags = enroll_flags(iin)
    no_form = flags[:flags.index("--consent-ref")]                       # the identity document only
    args = ["station", "enroll", STATION, "--operator", OPERATOR, "--iin", iin, "--name", "visa applicant",
            "--images", str(one_finger(world, "104", "DB3_B")), "--absent", "amputated", *no_form]
    refused = papilla_cli(world["homes"]["station"], *args, env=world["env"], check=False)
    assert refused.returncode == 2 and "no written consent" in refused.stderr and "Rules 406, p.3" in refused.stderr
    done = papilla_cli(world["homes"]["station"], *args, "--basis", "visa", "--citizenship", "stateless",
                       env=world["env"])
    packet_id = done.stdout.split()[1].rstrip(":")
    result = world["waiter"].wait(packet_id, 180)
    assert (result.status, result.rule) == ("ACTIVE", CASES["visa"].citation)
    subject_id = world["store"].get("enrollments", packet_id)["subject_id"]
    assert world["store"].find("consents", {"subject_id": subject_id}) == []
