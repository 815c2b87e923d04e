"""ANSI/NIST-ITL transactions: written and read back keep images (bytes and pixels), minutiae, exceptions and
qualities; through Papilla's fingers and templates and back, the same."""
from __future__ import annotations


import numpy as np
import pytest

from papilla.services.extract.templating import template_from_image
from papilla.shared.formats.ansi_nist import AnsiNistError, NistFinger, Transaction, read_transaction
from papilla.shared.formats.ansi_nist_papilla import from_enrollment, pixels_of, to_fingers, to_template
from papilla.shared.formats.ansi_nist_write import write_transaction
from papilla.shared.messages import FingerStatus
from tests.helpers.abis import encoded, finger_pixels


@pytest.fixture(scope="module")
def people():
    """Right index (WSQ, Type-14), left index (JPEG 2000, Type-14), right thumb (WSQ, legacy Type-4), with
    minutiae Papilla extracted; right middle amputated, left middle unable to print."""
    fingers = []
    for position, compression, image_type in ((2, "wsq", 14), (7, "jpeg2000", 14), (1, "wsq", 4)):
        pixels = finger_pixels(31, position, 0)
        image = encoded(pixels, compression)
        template = template_from_image(position, encoded(pixels, "png"), 500).template
        fingers.append(NistFinger(position=position, image=image, compression=compression, width=pixels.shape[1],
                                  height=pixels.shape[0], ppi=500, nfiq=2, quality=int(template.quality),
                                  minutiae=template.minutiae, image_type=image_type))
    fingers += [NistFinger(position=3, status="amputated"), NistFinger(position=8, status="unable_to_print")]
    return Transaction(tot="CAR", tcn="PAPILLA-TEST-0001", date="20261207", dai="DAI000000", ori="ORI000000",
                       descriptive={18: "NOT A REAL NAME"}, fingers=tuple(fingers))


def _same_minutiae(a: np.ndarray, b: np.ndarray) -> None:
    assert len(a) == len(b) > 10
    assert np.abs(a["x"] - b["x"]).max() <= 0.5 and np.abs(a["y"] - b["y"]).max() <= 0.5
    turn = np.abs((a["angle"] - b["angle"] + np.pi) % (2 * np.pi) - np.pi)
    assert np.degrees(turn).max() <= 1.0 + 1e-3        # the 2-degree unit of 9.137
    assert (a["kind"] == b["kind"]).all() and (a["quality"] == b["quality"]).all()


def test_write_then_read_keeps_everything(people):
    back = read_transaction(write_transaction(people))
    assert (back.tot, back.tcn, back.date, back.dai, back.ori) == ("CAR", "PAPILLA-TEST-0001", "20261207",
                                                                  "DAI000000", "ORI000000")
    assert back.descriptive == {18: "NOT A REAL NAME"}
    assert [f.position for f in back.fingers] == [1, 2, 3, 7, 8]
    for original in people.fingers:
        read = back.finger(original.position)
        assert read.status == original.status
        if original.image is None:
            assert read.image is None
            continue
        assert read.image == original.image and read.compression == original.compression
        assert (read.width, read.height, read.ppi, read.image_type) == (original.width, original.height, 500,
                                                                        original.image_type)
        assert read.quality == original.quality
        assert read.nfiq == (original.nfiq if original.image_type == 14 else None)   # Type-4 has no NQM
        _same_minutiae(read.minutiae, original.minutiae)


def test_through_papilla_and_back(people):
    """ANSI/NIST-ITL -> Papilla's fingers and templates -> ANSI/NIST-ITL: the same pixels and minutiae."""
    transaction = read_transaction(write_transaction(people))
    fingers = {f.position: f for f in to_fingers(transaction)}
    assert fingers[3].status is FingerStatus.AMPUTATED and fingers[8].status is FingerStatus.UNABLE_TO_PRINT
    assert fingers[2].format == "wsq" and fingers[2].image == transaction.finger(2).image   # carried as is
    assert fingers[7].format == "png"                                                      # JPEG 2000: PNG
    templates = {f.position: to_template(f) for f in transaction.fingers if f.minutiae is not None}
    again = read_transaction(write_transaction(from_enrollment(
        tcn="PAPILLA-EXPORT-1", date="20261207",
        finger_status={str(p): f.status.value for p, f in fingers.items()},
        templates=templates, images={p: f.image for p, f in fingers.items() if f.image is not None})))
    for position in (1, 2, 7):
        assert np.array_equal(pixels_of(again.finger(position)), pixels_of(people.finger(position)))
        _same_minutiae(again.finger(position).minutiae, people.finger(position).minutiae)
    assert again.finger(3).status == "amputated" and again.finger(8).status == "unable_to_print"


def test_a_damaged_transaction_is_refused_in_one_sentence(people):
    data = write_transaction(people)
    for broken in (data[:-10], b"1.001:abc" + data[9:], b"not a transaction"):
        with pytest.raises(AnsiNistError) as caught:
            read_transaction(broken)
        assert "NOT A REAL NAME" not in str(caught.value)
