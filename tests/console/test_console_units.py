"""The consoles' pieces that need no browser: session expiry, the label catalogues, the minutiae drawing and the
adjudicator's drawing of paired minutiae."""
from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
from PIL import Image

from papilla.console.drawing import paired_drawing, with_minutiae
from papilla.services.extract.templating import template_from_image
from papilla.services.match import engine
from papilla.console.i18n import CATALOGUES, label, language_of
from papilla.console.sessions import SessionPolicy, SessionStore
from papilla.shared.template import MINUTIA_DTYPE, FingerTemplate, MinutiaKind

TEMPLATES = Path(__file__).resolve().parents[2] / "papilla" / "console" / "templates"


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_session_ends_after_its_idle_time_and_after_its_shift_and_stops_its_work():
    clock, ended = Clock(), []
    store = SessionStore(SessionPolicy(idle_s=60, absolute_s=300), on_end=ended.append, clock=clock)
    anonymous = store.new()
    session = store.sign_in(anonymous, "op-1", "operator")
    assert store.get(anonymous.sid) is None and session.sid != anonymous.sid   # a fresh id at sign-in
    assert session.csrf != anonymous.csrf
    clock.now += 59
    assert store.get(session.sid) is session                   # a request restarts the idle clock
    clock.now += 59
    assert store.get(session.sid) is session
    clock.now += 61
    assert store.get(session.sid) is None and ended == [session]
    busy = store.sign_in(store.new(), "op-1", "operator")
    for _ in range(6):                                           # busy all shift: still ends at absolute_s
        clock.now += 55
        found = store.get(busy.sid)
    assert found is None and ended[-1] is busy


def test_every_label_is_in_english_russian_and_kazakh():
    keys = set(CATALOGUES["en"])
    for lang, catalogue in CATALOGUES.items():
        assert set(catalogue) == keys, (lang, keys ^ set(catalogue))
        assert all(text.strip() for text in catalogue.values()), lang
    used = set()
    for template in TEMPLATES.rglob("*.html"):
        used |= set(re.findall(r"""t\(["']([a-z_]+)["']\)""", template.read_text()))
    assert used - keys == set(), "labels used by the pages but in no catalogue"
    assert label("sign_in", "ru") == "Войти" and label("sign_in", "kk") == "Кіру"
    assert language_of(None, "kk-KZ,ru;q=0.8") == "kk" and language_of("xx", "de") == "en"


def test_minutiae_are_drawn_where_the_template_puts_them():
    png = io.BytesIO()
    Image.fromarray(np.full((200, 100), 255, np.uint8)).save(png, format="PNG")
    minutiae = np.array([(50, 100, 0.0, MinutiaKind.ENDING, 90), (20, 40, 1.57, MinutiaKind.BIFURCATION, 80)],
                        MINUTIA_DTYPE)
    # a template at twice the image's size: drawn at half its coordinates
    drawn = np.asarray(Image.open(io.BytesIO(with_minutiae(png.getvalue(), FingerTemplate(200, 400, minutiae)))))
    assert drawn.shape == (200, 100, 3)
    red, blue = drawn[50, 21], drawn[20, 10 - 4]               # on the circles (radius 4) around (25,50), (10,20)
    assert red[0] > 150 and red[2] < 100, red
    assert blue[2] > 150 and blue[0] < 100, blue
    assert (drawn[150:, :] == 255).all()                       # nothing drawn where there is no minutia


def _print(fvc_dir: Path, name: str) -> tuple[bytes, FingerTemplate]:
    tif = (fvc_dir / "DB1_B" / f"{name}.tif").read_bytes()
    png = io.BytesIO()
    Image.open(io.BytesIO(tif)).convert("L").save(png, format="PNG")
    return png.getvalue(), template_from_image(2, png.getvalue(), 500).template


def test_the_adjudicator_sees_both_prints_with_the_pairs_behind_the_score(fvc_dir):
    (png_a, a), (png_b, b), (png_c, c) = (_print(fvc_dir, n) for n in ("101_1", "101_2", "105_1"))
    drawn, same = paired_drawing(png_a, a, png_b, b)
    assert same.score == engine.compare(engine.prepare(a), engine.prepare(b))    # the score the matcher gave
    image = np.asarray(Image.open(io.BytesIO(drawn)).convert("RGB")).astype(int)
    assert image.shape[1] > a.width + b.width                       # side by side
    counted = (image[..., 1] > 150) & (image[..., 0] < 60) & (image[..., 2] < 60)   # the green of counted pairs
    assert counted.sum() > 200 and sum(p.counted for p in same.pairs) >= 4
    assert all(0 <= p.a < len(a.minutiae) and 0 <= p.b < len(b.minutiae) for p in same.pairs)
    _, other = paired_drawing(png_a, a, png_c, c)                   # another finger: a far lower score
    assert other.score < same.score / 2
