"""Before capture, the station asks the centre whether it and the signed-in operator may enroll now.

The centre answers from its own registry with the checks a packet will meet (`admission.intake.station_status`:
station registered and not revoked, operator registered, active and in a role that may enroll), so a revoked
station or operator learns it before ten fingers are taken, not after. The question is signed by the operator,
sealed by the station and sent like a packet (the station's `papilla.enroll` routing key, actor
`station_status`); the answer comes back on the station's results queue. It is an online check: when the centre
cannot be asked in time the station says the check was not made, and a packet captured anyway waits in the
spool and meets the same checks on arrival."""
from __future__ import annotations

import base64
import secrets
from datetime import datetime, timezone
from typing import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from papilla.shared.broker import send_to_intake
from papilla.shared.crypto.sealing import seal
from papilla.shared.errors import Refusal
from papilla.shared.messages import Result, StationStatusRequest, encode
from papilla.shared.parties import PartyKeys
from papilla.shared.principals import sign
from papilla.shared.routing import STATION_STATUS

#: how long the console waits for the centre's answer before saying the check was not made (the question queues
#: behind packets being extracted on papilla.enroll)
DEFAULT_WAIT_S = 15.0


class StatusNotChecked(Exception):
    """The centre could not be asked, or did not answer in time (one sentence, no personal data)."""


def question(station_id: str, operator: PartyKeys) -> StationStatusRequest:
    """The operator's signed question (its request id names the station, never a person)."""
    asked = StationStatusRequest(request_id=f"{station_id}-status-{secrets.token_hex(8)}", station_id=station_id,
                                 operator_id=operator.party_id, asked_at=datetime.now(timezone.utc),
                                 reply_to=station_id)
    return sign(asked, "operator_signature", operator.signing)


def ask_centre(*, station_id: str, signing_key: Ed25519PrivateKey, centre_public: X25519PublicKey,
               operator: PartyKeys, broker, wait: Callable[[str, float], Result],
               timeout_s: float = DEFAULT_WAIT_S) -> Result:
    """The centre's REGISTERED answer; a Refusal (with the centre's code and citation) when it refuses;
    StatusNotChecked when it cannot be asked or does not answer within `timeout_s`. `wait(request_id, timeout)`
    waits on the station's results queue (`client.RabbitResultWaiter.wait`)."""
    asked = question(station_id, operator)
    sealed = seal(encode(asked), sender_id=station_id, packet_id=asked.request_id, signing_key=signing_key,
                  centre_public=centre_public)
    try:
        send_to_intake(broker, STATION_STATUS, base64.b64encode(sealed).decode())
    except Exception as exc:     # the broker is out of reach or refused the route: say so, keep the station usable
        raise StatusNotChecked(f"the centre could not be asked ({type(exc).__name__})") from None
    try:
        answer = wait(asked.request_id, timeout_s)
    except TimeoutError:
        raise StatusNotChecked(f"the centre did not answer within {timeout_s:g} s") from None
    if answer.status != "REGISTERED":
        raise Refusal(answer.detail or f"the centre refused this station ({answer.reason})",
                      code=answer.reason or "refused", rule=answer.rule)
    return answer
