"""What demo_stack.py runs: the local processes of papilla.devstack (a throwaway RabbitMQ node, worker
processes, a Prometheus server, FVC images as a scanner; the same library the tests use), and the applicant
papers a station enrolls with. Everything listens on 127.0.0.1 only."""
from __future__ import annotations

from datetime import date
from pathlib import Path

from papilla.devstack import prometheus as devstack_prometheus
from papilla.devstack.fvc import FvcScanner, statuses  # noqa: F401  (what demo_stack imports from here)
from papilla.devstack.ports import free_port  # noqa: F401
from papilla.devstack.prometheus import Prometheus  # noqa: F401
from papilla.devstack.rabbit_node import RabbitNode as _RabbitNode
from papilla.devstack.workers import start_worker  # noqa: F401
from papilla.services.capture.station import ConsentForm
from papilla.shared.crypto.iin import InvalidIIN, birth_date_from_iin
from papilla.shared.messages import IdentityDocument

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS_INFRA = REPO / "infra" / "prometheus"


class RabbitNode(_RabbitNode):
    def __init__(self, workdir: Path, *, conf: str, plugins: tuple[str, ...] = ()):
        super().__init__(workdir, conf=conf, plugins=plugins, name="papilla-demo")


def prometheus_config(base_port: int, rules: Path) -> dict:
    """The shipped prometheus.yml, pointed at the workers listening from `base_port`."""
    return devstack_prometheus.prometheus_config(PROMETHEUS_INFRA / "prometheus.yml", base_port, rules)


def document_for(iin: str) -> IdentityDocument:
    """An identity card whose birth date is the IIN's (the demo's IINs are valid)."""
    try:
        birth = birth_date_from_iin(iin)
    except InvalidIIN as err:
        raise ValueError("the demo enrolls valid test IINs only") from err
    return IdentityDocument(type="id_card", number="N04412345", birth_date=birth)


def consent_form(signed_on: date) -> ConsentForm:
    """The Annex form of Rules 406 signed by the applicant on `signed_on`, conditions explained."""
    return ConsentForm(signature_ref="form-406-0001", signed_on=signed_on, conditions_explained=True,
                       signed_by="subject", application_ref=None)
