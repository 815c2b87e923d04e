"""CBEFF biometric documents: fetched from the partner's referenceURL, validated, finger images decoded.

A document is valid when it validates against MOSIP's CBEFF XSD (ISO/IEC 19785-3 patron format with MOSIP's
base64url extension, `schema/cbeff.xsd`). Each finger BIR (BDBInfo Type "Finger", Subtype e.g. "Left
IndexFinger") carries an ISO/IEC 19794-4:2011 record in its BDB (base64 or URL-safe base64), whose image is
JPEG 2000 or WSQ (or PNG); it becomes a Papilla `Finger` (PNG at the record's resolution). A finger BIR
marked as an exception (`Others` key EXCEPTION = true, MOSIP's marker for a finger not captured) becomes a
finger Papilla records as unable to print. Faces and irises are not Papilla's modality and are skipped.
"""
from __future__ import annotations

import base64
import io
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import xmlschema
from PIL import Image, UnidentifiedImageError

from papilla.shared.formats.iso19794_4 import Iso19794_4Error, read_record
from papilla.shared.messages import Finger, FingerStatus

from .failures import AbisFailure, Reason

try:  # registers the WSQ codec with Pillow (a declared dependency)
    import wsq  # noqa: F401
except ImportError:  # pragma: no cover
    wsq = None

NS = "http://standards.iso.org/iso-iec/19785/-3/ed-2/"
SCHEMA_PATH = Path(__file__).with_name("schema") / "cbeff.xsd"
_SCHEMA: xmlschema.XMLSchema | None = None
#: CBEFF finger subtypes (BDBInfo/Subtype) and the ISO/ANSI positions they name
POSITIONS = {("Right", "Thumb"): 1, ("Right", "IndexFinger"): 2, ("Right", "MiddleFinger"): 3,
             ("Right", "RingFinger"): 4, ("Right", "LittleFinger"): 5, ("Left", "Thumb"): 6,
             ("Left", "IndexFinger"): 7, ("Left", "MiddleFinger"): 8, ("Left", "RingFinger"): 9,
             ("Left", "LittleFinger"): 10}
SUBTYPES = {v: f"{side} {finger}" for (side, finger), v in POSITIONS.items()}


@dataclass(frozen=True)
class FetchParams:
    """How a referenceURL is fetched.

    timeout_s: connect and read timeout of one fetch (default 10 s)
    max_bytes: a document larger than this is refused unread beyond it (default 20 MB: ten fingers of
               500 ppi JPEG 2000 are ~2 MB; MOSIP's documents with faces and irises are larger)
    schemes:   URL schemes accepted (http and https only: never file:// or ftp://)
    """

    timeout_s: float = 10.0
    max_bytes: int = 20_000_000
    schemes: tuple[str, ...] = ("http", "https")


def fetch(url: str, params: FetchParams = FetchParams()) -> bytes:
    """The document at `url`, or failure 7 (unreachable, HTTP error, too large) / 17 (gone)."""
    scheme = url.split(":", 1)[0].lower()
    if scheme not in params.schemes:
        raise AbisFailure(Reason.UNABLE_TO_FETCH, f"referenceURL scheme {scheme!r} is not one of "
                                                  f"{', '.join(params.schemes)}")
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="GET"), timeout=params.timeout_s) as reply:
            body = reply.read(params.max_bytes + 1)
    except urllib.error.HTTPError as exc:
        reason = Reason.DATA_SHARE_EXPIRED if exc.code == 410 else Reason.UNABLE_TO_FETCH
        raise AbisFailure(reason, f"referenceURL answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise AbisFailure(Reason.UNABLE_TO_FETCH, f"referenceURL could not be read ({type(exc).__name__})") from None
    if len(body) > params.max_bytes:
        raise AbisFailure(Reason.UNABLE_TO_FETCH, f"CBEFF document over {params.max_bytes} bytes")
    if not body.strip():
        raise AbisFailure(Reason.CBEFF_HAS_NO_DATA, "referenceURL returned an empty document")
    return body


def schema() -> xmlschema.XMLSchema:
    global _SCHEMA
    if _SCHEMA is None:
        _SCHEMA = xmlschema.XMLSchema(str(SCHEMA_PATH))
    return _SCHEMA


def _validated_root(document: bytes) -> ElementTree.Element:
    if b"<!DOCTYPE" in document[:2048].upper() or b"<!ENTITY" in document.upper():
        raise AbisFailure(Reason.INVALID_CBEFF, "CBEFF document declares a DTD or entities (refused)")
    try:
        root = ElementTree.fromstring(document)
    except ElementTree.ParseError as exc:
        raise AbisFailure(Reason.INVALID_CBEFF, f"CBEFF document is not XML (line {exc.position[0]})") from None
    errors = list(schema().iter_errors(root))
    if errors:
        first = errors[0]
        raise AbisFailure(Reason.INVALID_CBEFF, f"CBEFF document does not validate against MOSIP's CBEFF XSD "
                                                f"({len(errors)} errors; first at {first.path}: {first.reason})")
    return root


def _q(name: str) -> str:
    return f"{{{NS}}}{name}"


def _is_exception(bir: ElementTree.Element) -> bool:
    for entry in bir.findall(_q("Others")):
        key, value = entry.findtext(_q("Key"), ""), entry.findtext(_q("Value"), "")
        if key.strip().upper() == "EXCEPTION" and value.strip().lower() == "true":
            return True
    return False


def decode_base64(text: str) -> bytes:
    """Standard or URL-safe base64, padded or not, with whitespace (the XSD allows all of these)."""
    compact = "".join(text.split())
    padded = compact + "=" * (-len(compact) % 4)
    altchars = b"-_" if ("-" in compact or "_" in compact) else None
    try:
        return base64.b64decode(padded, altchars=altchars, validate=True)
    except ValueError:
        raise AbisFailure(Reason.INVALID_CBEFF, "a BDB is not base64") from None


def png_of(data: bytes, compression: str) -> tuple[bytes, int, int]:
    """The image of a 19794-4 representation as 8-bit PNG (width, height checked by the decoder)."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            gray = img.convert("L")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise AbisFailure(Reason.INVALID_CBEFF, f"a finger image ({compression}) could not be decoded") from None
    out = io.BytesIO()
    gray.save(out, format="PNG")
    return out.getvalue(), gray.width, gray.height


def _finger(bir: ElementTree.Element, position: int) -> Finger:
    if _is_exception(bir):
        return Finger(position=position, status=FingerStatus.UNABLE_TO_PRINT)
    bdb = bir.findtext(_q("BDB"))
    if not bdb or not bdb.strip():
        raise AbisFailure(Reason.CBEFF_HAS_NO_DATA, f"the BIR of finger {position} has no BDB")
    try:
        images = read_record(decode_base64(bdb))
    except Iso19794_4Error as exc:
        raise AbisFailure(Reason.INVALID_CBEFF, f"finger {position}: {exc}") from None
    if not images:
        raise AbisFailure(Reason.CBEFF_HAS_NO_DATA, f"finger {position}: the record holds no image")
    image = images[0]
    png, _, _ = png_of(image.data, image.compression)
    dpi = min(max(image.ppi, 250), 1000)
    return Finger(position=position, status=FingerStatus.CAPTURED, image=png, format="png", dpi=dpi)


def _position(bir: ElementTree.Element) -> int | None:
    info = bir.find(_q("BDBInfo"))
    if info is None or "Finger" not in (info.findtext(_q("Type")) or "").split():
        return None
    words = tuple((info.findtext(_q("Subtype")) or "").split())
    if words not in POSITIONS:
        raise AbisFailure(Reason.INVALID_CBEFF, f"finger subtype {' '.join(words)!r} names no single finger")
    return POSITIONS[words]


def fingers_of(document: bytes) -> list[Finger]:
    """The fingers of a CBEFF document (failure 16 invalid, 11 no finger data)."""
    root = _validated_root(document)
    fingers: dict[int, Finger] = {}
    for bir in root.iter(_q("BIR")):
        position = _position(bir)
        if position is None:
            continue
        if position in fingers:
            raise AbisFailure(Reason.INVALID_CBEFF, f"finger {SUBTYPES[position]} appears twice")
        fingers[position] = _finger(bir, position)
    if not any(f.status is FingerStatus.CAPTURED for f in fingers.values()):
        raise AbisFailure(Reason.CBEFF_HAS_NO_DATA, "the CBEFF document holds no captured finger")
    return [fingers[p] for p in sorted(fingers)]


def _element(parent: ElementTree.Element, name: str, text: str | None = None) -> ElementTree.Element:
    child = ElementTree.SubElement(parent, _q(name))
    if text is not None:
        child.text = text
    return child


def _version(parent: ElementTree.Element, name: str) -> None:
    version = _element(parent, name)
    _element(version, "Major", "1")
    _element(version, "Minor", "1")


def document_of(records: dict[int, bytes], *, quality: dict[int, int] | None = None,
                url_safe: bool = True) -> bytes:
    """A CBEFF document of finger BIRs in MOSIP's layout (Format Mosip/7, Purpose Enroll), one ISO/IEC
    19794-4 record per position; what Papilla exports and what the tests serve."""
    ElementTree.register_namespace("", NS)
    root = ElementTree.Element(_q("BIR"))
    _version(root, "Version")
    _version(root, "CBEFFVersion")
    _element(_element(root, "BIRInfo"), "Integrity", "false")
    for position, record in sorted(records.items()):
        bir = _element(root, "BIR")
        _version(bir, "Version")
        _version(bir, "CBEFFVersion")
        _element(_element(bir, "BIRInfo"), "Integrity", "false")
        info = _element(bir, "BDBInfo")
        fmt = _element(info, "Format")
        _element(fmt, "Organization", "Mosip")
        _element(fmt, "Type", "7")
        _element(info, "Type", "Finger")
        _element(info, "Subtype", SUBTYPES[position])
        _element(info, "Level", "Raw")
        _element(info, "Purpose", "Enroll")
        score = (quality or {}).get(position)
        if score is not None:
            q = _element(info, "Quality")
            algorithm = _element(q, "Algorithm")
            _element(algorithm, "Organization", "Papilla")
            _element(algorithm, "Type", "papilla-quality")
            _element(q, "Score", str(score))
        encoded = base64.urlsafe_b64encode(record) if url_safe else base64.b64encode(record)
        _element(bir, "BDB", encoded.decode("ascii"))
    return ElementTree.tostring(root, xml_declaration=True, encoding="utf-8")
