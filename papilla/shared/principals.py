"""People and bodies acting at the centre: every act is signed by a registered principal whose role permits it.

A station names its operator on each enrollment packet and the operator signs
the packet; a service sends lifecycle commands signed by the principal who
decided them. The centre checks here, in one place: the principal is
registered and active, the signature is theirs over exactly this message,
and their role may perform the action (`shared.legal.roles`, with the rule's
citation in the refusal).
"""
from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .crypto.registry import SenderRegistry
from .errors import Refusal
from .legal.roles import check_permitted
from .legal.rules import refuse
from .messages import encode

SIGNATURE_FIELDS = ("operator_signature", "principal_signature", "approver_signature")


def signed_bytes(message) -> bytes:
    """What a principal signs: the message as sent, without its signature fields."""
    return encode(message.model_copy(update={f: None for f in SIGNATURE_FIELDS if f in type(message).model_fields}))


def sign(message, field: str, key: Ed25519PrivateKey):
    """`message` with `field` holding the principal's signature over `signed_bytes(message)`."""
    return message.model_copy(update={field: key.sign(signed_bytes(message))})


def check_signed_by(senders: SenderRegistry, principal_id: str, signature: bytes | None, message,
                    action: str) -> str:
    """The principal's role, if they are registered and active, signed `message`, and may do `action`."""
    record = senders.get(principal_id)
    if record is None or record.kind != "principal":
        raise _unauthenticated("unknown_principal", f"principal {principal_id} is not registered at the centre")
    if not record.active:
        raise _unauthenticated("principal_revoked", f"principal {principal_id} was revoked")
    if not signature:
        raise _unauthenticated("unsigned_by_principal", f"the message is not signed by principal {principal_id}")
    try:
        record.public_key.verify(signature, signed_bytes(message))
    except InvalidSignature:
        raise _unauthenticated("bad_principal_signature",
                               f"the signature of principal {principal_id} does not match the message") from None
    check_permitted(action, record.role)
    return record.role


def _unauthenticated(code: str, detail: str) -> Refusal:
    """A message whose signer cannot be established is refused under the rule that data is transmitted only
    under cryptographic protection (the signature is that protection's proof of origin)."""
    return refuse("cryptographic_protection", code, detail)
