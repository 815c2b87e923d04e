"""A station process killed between the broker's confirm and the removal of the packet from its spool.

Run as `python -m tests.helpers.crashing_station FVC_IMAGE IIN`: it enrolls one person with the FVC image and
SIGKILLs itself the moment the outbox would delete the confirmed packet, so the packet is both at the centre
and still in the spool. The environment gives PAPILLA_HOME (station key, centre public key, spool) and the
broker URL.
"""
from __future__ import annotations

import os
import signal
import sys
from datetime import date
from pathlib import Path

from papilla.services.capture.devices import FolderScanner
from papilla.services.capture.outbox import Outbox
from papilla.services.capture.station import QualityGate, Station
from papilla.shared.broker import rabbitmq_broker
from papilla.shared.config import Settings
from papilla.shared.parties import load_centre_public, load_party
from tests.helpers.builders import consent_form, document_for

STATION, OPERATOR = "st-faults-01", "op-faults-01"


def die_on_unlink(self, *args, **kwargs):
    if self.suffix == ".sealed":
        print(f"confirmed {self.stem}; killed before removing it from the spool", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    image, iin = Path(sys.argv[1]), sys.argv[2]
    settings = Settings.from_env()
    station = Station(station_id=STATION, signing_key=load_party(settings, STATION).signing,
                      centre_public=load_centre_public(settings).box,
                      outbox=Outbox(settings.spool_dir, rabbitmq_broker(settings)),
                      gate=QualityGate(min_quality=0, max_attempts=1))
    Path.unlink = die_on_unlink
    station.enroll(iin=iin, full_name="Crashed Station Person", scanner=FolderScanner(image.parent, {1: image.name}),
                   operator=load_party(settings, OPERATOR), consent=consent_form(date(2026, 11, 22)),
                   document=document_for(iin), finger_status={p: "captured" if p == 1 else "amputated" for p in range(1, 11)},
                   today=date(2026, 11, 22))
    sys.exit("the station was not killed")


if __name__ == "__main__":
    main()
