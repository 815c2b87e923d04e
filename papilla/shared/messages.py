"""Versioned message schemas, validated at the edge.

Every message names its schema (`schema`, e.g. ``papilla.enrollment/3``).
Validation errors say which field is wrong and why, and never echo the
input (pydantic's `hide_input_in_errors`): an IIN or an image must not end
up in an error message, a log line or a dead-letter record.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timezone
from enum import Enum
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator, model_validator

from .legal.bases import BASES

FINGER_POSITIONS = range(1, 11)  # ISO/ANSI: 1 right thumb … 5 right little, 6 left thumb … 10 left little
IMAGE_FORMATS = ("png", "tiff", "bmp", "jpeg", "wsq")
MAX_IMAGE_BYTES = 2_000_000
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{2,127}$")


class MessageError(ValueError):
    """A message failed validation. `problems` lists (field path, reason)."""

    code = "malformed_message"

    def __init__(self, schema: str, problems: list[tuple[str, str]]):
        self.schema = schema
        self.problems = problems
        detail = "; ".join(f"{path}: {reason}" for path, reason in problems)
        super().__init__(f"invalid {schema} message: {detail}")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True, frozen=True,
                              ser_json_bytes="base64", val_json_bytes="base64")


def _check_id(value: str) -> str:
    if not _ID.match(value):
        raise ValueError("must be 3-128 characters of letters, digits and . _ : -")
    return value


Identifier = Annotated[str, Field(min_length=3, max_length=128)]


class FingerStatus(str, Enum):
    CAPTURED = "captured"
    AMPUTATED = "amputated"              # Rules 406 p.6-7, p.10
    UNABLE_TO_PRINT = "unable_to_print"  # no papillary pattern (Rules 406 p.10)
    INJURED = "injured"                  # temporarily injured: skipped, the rest taken (Rules 406 p.7)


class Finger(_Model):
    position: int = Field(ge=1, le=10)
    status: FingerStatus
    image: bytes | None = None
    format: Literal["png", "tiff", "bmp", "jpeg", "wsq"] | None = None
    dpi: int | None = Field(default=None, ge=250, le=1000)

    @field_validator("image")
    @classmethod
    def _image_size(cls, value: bytes | None) -> bytes | None:
        if value is not None and not 0 < len(value) <= MAX_IMAGE_BYTES:
            raise ValueError(f"image must be 1..{MAX_IMAGE_BYTES} bytes")
        return value

    @model_validator(mode="after")
    def _image_matches_status(self) -> "Finger":
        if self.status is FingerStatus.CAPTURED and (self.image is None or self.format is None):
            raise ValueError("a captured finger needs image and format")
        if self.status is not FingerStatus.CAPTURED and self.image is not None:
            raise ValueError("only a captured finger carries an image")
        return self


def _fingers_unique(fingers: list[Finger]) -> list[Finger]:
    positions = [f.position for f in fingers]
    if len(set(positions)) != len(positions):
        raise ValueError("each finger position may appear once")
    return fingers


#: Who signs the consent form (Rules 406 p.3, p.5, p.11; Law Art.11 p.2-3).
SIGNERS = ("subject", "legal_representative", "custodian")
#: Identity documents an applicant presents (Rules 406 p.3; Law Art.10 p.1-2).
DOCUMENT_TYPES = ("id_card", "passport", "foreign_passport", "residence_permit", "stateless_certificate",
                  "refugee_certificate", "travel_document", "seafarer_id", "birth_certificate")
_DOCUMENT_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 /-]{0,31}$")


class Consent(_Model):
    """The written consent on the form of the Annex to Rules 406 (p.3), as the station records it.

    Name, date of birth and IIN must be the applicant's (checked by `shared.legal.eligibility.check_consent`
    at the station and again at the centre); the packet is sealed and the centre stores the record
    encrypted, so they are not kept twice in clear. Nothing here has a default that would make consent
    appear given: the signature reference, the date of consent, who accepted it and whether the conditions
    were explained are always stated.
    """

    form_version: str = Field(min_length=1, max_length=32)
    full_name: str = Field(min_length=1, max_length=256)
    birth_date: date                                          # "day, month in uppercase, and year of birth"
    iin: str = Field(min_length=12, max_length=12)            # "affixed with IIN"
    signed_on: date                                           # "date of consent"
    accepted_by: Identifier                                   # "Consent was accepted by": the operator id
    signature_ref: str = Field(min_length=1, max_length=128)  # the signed form (scan / register number)
    conditions_explained: bool                                # Rules 406 p.3 para.2: must be true
    purposes: tuple[str, ...] = Field(min_length=1, max_length=4)   # the legal basis (bases) consented to
    signed_by: Literal["subject", "legal_representative", "custodian"]
    #: the representative's or custodian's written application (Rules 406 p.5; Law Art.11 p.2-3)
    application_ref: str | None = Field(default=None, min_length=1, max_length=128)

    _accepted = field_validator("accepted_by")(classmethod(lambda cls, v: _check_id(v)))

    @model_validator(mode="after")
    def _application_of_the_signer(self) -> "Consent":
        if self.signed_by != "subject" and not self.application_ref:
            raise ValueError(f"a consent signed by the {self.signed_by.replace('_', ' ')} names their written "
                             "application (application_ref)")
        if self.signed_by == "subject" and self.application_ref:
            raise ValueError("application_ref is the representative's or custodian's application; the subject "
                             "signed this consent")
        return self


class IdentityDocument(_Model):
    """The identity document presented at the station (Rules 406 p.3). The centre keeps the number only
    hashed and encrypted, like the IIN."""

    type: Literal["id_card", "passport", "foreign_passport", "residence_permit", "stateless_certificate",
                  "refugee_certificate", "travel_document", "seafarer_id", "birth_certificate"]
    number: str = Field(min_length=1, max_length=32)
    birth_date: date                                          # as printed on the document

    @field_validator("number")
    @classmethod
    def _number(cls, value: str) -> str:
        if not _DOCUMENT_NUMBER.match(value):
            raise ValueError("must be 1-32 letters, digits, spaces, / or -, starting with a letter or digit")
        return value


class Present(_Model):
    """A person present with the applicant and their written application (Rules 406 p.5; Law Art.11 p.2-3)."""

    role: Literal["legal_representative", "custodian", "trustee"]
    written_application: str = Field(min_length=1, max_length=128)   # reference of the signed application


class Applicant(_Model):
    iin: str = Field(min_length=12, max_length=12)
    full_name: str = Field(min_length=1, max_length=256)
    legal_capacity: Literal["full", "limited", "incapacitated"] = "full"
    citizenship: Literal["citizen", "foreigner", "stateless"] = "citizen"
    present: tuple[Present, ...] = Field(default=(), max_length=4)
    document: IdentityDocument


class DecisionRecord(_Model):
    """The station's decision (shared/legal/decide.py); the centre decides again and stores its own."""

    decision: str = Field(max_length=32)
    rule: str = Field(max_length=64)
    citation: str = Field(max_length=200)


class EnrollmentPacket(_Model):
    schema_: Literal["papilla.enrollment/3"] = Field(default="papilla.enrollment/3", alias="schema")
    packet_id: Identifier
    station_id: Identifier
    operator_id: Identifier
    captured_at: datetime
    purpose: Literal[tuple(BASES)] = "public_service_authentication"   # type: ignore[valid-type]  # the legal basis
    applicant: Applicant
    decision: DecisionRecord | None = None
    consent: Consent | None = None   # absent only where the law registers without consent (Law Art.10 p.2)
    fingers: list[Finger] = Field(min_length=1, max_length=10)
    reenrollment_reason: Literal["irreversible_damage", "document_replacement"] | None = None
    reply_to: Identifier | None = None
    operator_signature: bytes | None = Field(default=None, max_length=64)   # the operator's Ed25519 signature

    _ids = field_validator("packet_id", "station_id", "operator_id")(classmethod(lambda cls, v: _check_id(v)))
    _fingers = field_validator("fingers")(classmethod(lambda cls, v: _fingers_unique(v)))


class VerifyRequest(_Model):
    schema_: Literal["papilla.verify/1"] = Field(default="papilla.verify/1", alias="schema")
    request_id: Identifier
    reply_to: Identifier
    iin: str = Field(min_length=12, max_length=12)
    fingers: list[Finger] = Field(min_length=1, max_length=10)

    _ids = field_validator("request_id", "reply_to")(classmethod(lambda cls, v: _check_id(v)))
    _fingers = field_validator("fingers")(classmethod(lambda cls, v: _fingers_unique(v)))


class IdentifyRequest(_Model):
    schema_: Literal["papilla.identify/1"] = Field(default="papilla.identify/1", alias="schema")
    request_id: Identifier
    reply_to: Identifier
    fingers: list[Finger] = Field(min_length=1, max_length=10)
    max_candidates: int = Field(default=10, ge=1, le=100)

    _ids = field_validator("request_id", "reply_to")(classmethod(lambda cls, v: _check_id(v)))
    _fingers = field_validator("fingers")(classmethod(lambda cls, v: _fingers_unique(v)))


class LifecycleAction(str, Enum):
    BLOCK = "block"
    BLOCK_ON_DEMAND = "block_on_demand"                     # the subject's own demand, at a branch (Rules 395 p.25)
    UNBLOCK = "unblock"
    DESTROY = "destroy"
    WITHDRAW_CONSENT = "withdraw_consent"
    ADJUDICATE = "adjudicate"
    DEPERSONALIZE = "depersonalize"                         # Law Art.9 p.1 (services/lifecycle/depersonalization.py)
    REMOVE_DEPERSONALIZATION = "remove_depersonalization"
    TRANSFER = "transfer"                                   # Law Art.9 p.4-5 (services/lifecycle/transfers.py)
    RECEIVE_ACCESS_REQUEST = "receive_access_request"       # the subject's access request, at a branch (Rules 395 p.15-16)


#: Who receives a transfer (Law Art.9 p.4: courts, law enforcement, special state bodies, executive enforcement,
#: inquiry, investigation; p.5: a foreign state under a ratified treaty).
RECIPIENT_KINDS = ("court", "prosecutor", "law_enforcement", "special_state_body", "executive_enforcement", "inquiry",
                   "investigation", "foreign_state")


class TransferOrder(_Model):
    """What a transfer names: the registered recipient, its kind, the legal basis (the law and the court decision
    or request), and for a foreign state the ratified treaty."""

    recipient_id: Identifier
    #: what the order says the recipient is; the centre acts on the kind it registered for the recipient
    #: (`shared.parties.recipient_kind`) and refuses an order that says otherwise. Optional.
    recipient_kind: Literal["court", "prosecutor", "law_enforcement", "special_state_body", "executive_enforcement",
                            "inquiry", "investigation", "foreign_state"] | None = None
    legal_basis: str = Field(min_length=3, max_length=256)
    treaty: str | None = Field(default=None, min_length=3, max_length=256)
    include_images: bool = False     # templates only unless the order asks for the images too

    _ids = field_validator("recipient_id")(classmethod(lambda cls, v: _check_id(v)))

    @model_validator(mode="after")
    def _treaty_for_foreign_state(self) -> "TransferOrder":
        if self.recipient_kind == "foreign_state" and not self.treaty:
            raise ValueError("a transfer to a foreign state names the ratified treaty (Law Art.9 p.5)")
        return self


class LifecycleCommand(_Model):
    """A lifecycle act, signed by the registered principal who decided it (`shared.principals`)."""

    schema_: Literal["papilla.lifecycle/2"] = Field(default="papilla.lifecycle/2", alias="schema")
    request_id: Identifier
    reply_to: Identifier
    action: LifecycleAction
    iin: str | None = Field(default=None, min_length=12, max_length=12)
    enrollment_id: Identifier | None = None
    decision: Literal["distinct_person", "same_person_reject"] | None = None
    reason: str = Field(min_length=1, max_length=512)
    principal_id: Identifier
    principal_signature: bytes | None = Field(default=None, max_length=64)
    #: destruction, consent withdrawal and the subject's block demand: whose written application it is (Rules 406
    #: p.11; Rules 395 p.6, p.25)
    on_application_of: Literal["subject", "legal_representative", "custodian"] | None = None
    #: transfers (Law Art.9 p.4-5): the order, and the second principal who approved it, signing the same bytes
    transfer: TransferOrder | None = None
    approver_id: Identifier | None = None
    approver_signature: bytes | None = Field(default=None, max_length=64)

    _ids = field_validator("request_id", "reply_to", "principal_id")(classmethod(lambda cls, v: _check_id(v)))


class StationStatusRequest(_Model):
    """A station's question before capture: may this station and this operator enroll now? Signed by the
    operator, sealed by the station; the centre answers from its registry (`intake.station_status`)."""

    schema_: Literal["papilla.station-status/1"] = Field(default="papilla.station-status/1", alias="schema")
    request_id: Identifier
    station_id: Identifier
    operator_id: Identifier
    asked_at: datetime
    reply_to: Identifier | None = None
    operator_signature: bytes | None = Field(default=None, max_length=64)

    _ids = field_validator("request_id", "station_id", "operator_id")(classmethod(lambda cls, v: _check_id(v)))


class AuditAccess(_Model):
    """An auditor's signed request to read (`show`) or check (`verify`) the audit trail (commands/audit.py)."""

    schema_: Literal["papilla.audit-access/1"] = Field(default="papilla.audit-access/1", alias="schema")
    command: Literal["show", "verify"]
    principal_id: Identifier
    at: datetime
    principal_signature: bytes | None = Field(default=None, max_length=64)


Request = Annotated[Union[EnrollmentPacket, VerifyRequest, IdentifyRequest, LifecycleCommand, StationStatusRequest],
                    Field(discriminator="schema_")]
_REQUEST = TypeAdapter(Request)


class Candidate(_Model):
    subject_ref: str
    enrollment_id: str
    score: float
    finger_scores: dict[str, float] = Field(default_factory=dict)


class Result(_Model):
    """The answer to one request; stored once and published to `reply_to`."""

    schema_: Literal["papilla.result/1"] = Field(default="papilla.result/1", alias="schema")
    request_id: str
    kind: Literal["enrollment", "verify", "identify", "lifecycle", "request", "status"]   # "request": refused before its kind was read
    status: str        # e.g. ACTIVE, PENDING_REVIEW, MATCH, NO_MATCH, NOT_ENROLLED, BLOCKED, REFUSED, DONE
    score: float | None = None
    finger_scores: dict[str, float] = Field(default_factory=dict)
    candidates: tuple[Candidate, ...] = ()
    reason: str | None = None      # refusal code, e.g. "unknown_sender", "age_below_18"
    rule: str | None = None        # legal citation when a rule decided it
    detail: str | None = Field(default=None, max_length=500)   # a refusal's sentence (never personal data)
    completed_at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))


def parse_request(data: bytes) -> EnrollmentPacket | VerifyRequest | IdentifyRequest | LifecycleCommand | StationStatusRequest:
    """Parse and validate a request payload (JSON bytes), or raise MessageError."""
    try:
        return _REQUEST.validate_json(data)
    except ValidationError as exc:
        raise MessageError(_schema_hint(data), _problems(exc)) from None


def parse_result(data: bytes) -> Result:
    try:
        return Result.model_validate_json(data)
    except ValidationError as exc:
        raise MessageError("papilla.result/1", _problems(exc)) from None


def encode(message: _Model) -> bytes:
    return message.model_dump_json(by_alias=True).encode()


def _problems(exc: ValidationError) -> list[tuple[str, str]]:
    problems = []
    for err in exc.errors(include_input=False, include_context=False):
        loc = [str(p) for p in err["loc"]]
        if loc and loc[0].startswith("papilla."):  # the schema tag pydantic prefixes
            loc = loc[1:]
        problems.append((".".join(loc) or "(message)", err["msg"]))
    return problems


def _schema_hint(data: bytes) -> str:
    match = re.search(rb'"schema"\s*:\s*"(papilla\.[a-z]+/\d+)"', data[:4096])
    return match.group(1).decode() if match else "papilla request"
