"""What each record may be used for, and by whom; what an application may end (one place, as data).

Two questions the lifecycle and the match service ask about a record's legal basis (`bases.BASES`):

* **May the person's application end it?** Records kept for public-service authentication (Rules 406) have no
  term: the person's application destroys them the same day (Rules 406 p.11) and a withdrawal of consent too
  (Rules 395 p.6). Records kept under the Law on dactyloscopic and genomic registration keep the terms of
  Art.15 and go only on the grounds of Art.17 (end of term, approved act): `split_by_basis` separates the two,
  `kept_refusal` is the cited refusal for the rest.
* **May this requester use it for this?** A use (verify, identify, transfer, export) is allowed for a record
  when the requester's kind, as the centre registered it (`shared.parties.recipient_kind`, never what a
  request says), is in the row of `USES` for the record's family of basis. Otherwise the use is beyond the
  purposes stated at collection (Rules 395 p.18) and refused, or the record left out of the candidates.

The table is rendered into docs/legal.md ("Purpose limitation"); a test compares the two.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import Refusal
from .bases import basis
from .rules import refuse, rule

#: The kinds of requester the centre registers (`papilla centre register-service FILE --recipient-kind K`).
RECIPIENT_KINDS = ("public_service", "registering_authority", "border_control", "court", "prosecutor",
                   "law_enforcement", "special_state_body", "executive_enforcement", "inquiry", "investigation",
                   "foreign_state")
USE_NAMES = ("verify", "identify", "transfer", "export")
PUBLIC_SERVICE, LAW = "public_service", "law"
#: The basis a record written before `legal_basis` was recorded is read under.
DEFAULT_BASIS = "public_service_authentication"

_TRANSFER_KINDS = ("court", "prosecutor", "law_enforcement", "special_state_body", "executive_enforcement",
                   "inquiry", "investigation", "foreign_state")


@dataclass(frozen=True)
class Use:
    """One row: `use` of a record of `family` is allowed to the requester kinds `kinds`, under `rule_id`.

    kinds: empty means no requester may: the use is beyond the purposes the record was collected for."""

    use: str
    family: str
    kinds: tuple[str, ...]
    rule_id: str

    @property
    def citation(self) -> str:
        return rule(self.rule_id).citation


USES: tuple[Use, ...] = (
    Use("verify", PUBLIC_SERVICE, ("public_service",), "use_public_service_authentication"),
    Use("identify", PUBLIC_SERVICE, ("public_service",), "use_public_service_authentication"),
    Use("transfer", PUBLIC_SERVICE, (), "beyond_stated_purpose"),
    Use("export", PUBLIC_SERVICE, (), "beyond_stated_purpose"),
    Use("verify", LAW, ("registering_authority", "border_control", "law_enforcement"), "use_law_identification"),
    Use("identify", LAW, ("registering_authority", "law_enforcement", "special_state_body"),
        "use_law_identification"),
    Use("transfer", LAW, _TRANSFER_KINDS, "transfer_to_authorised_bodies"),
    Use("export", LAW, _TRANSFER_KINDS, "transfer_to_authorised_bodies"),
)


def family(basis_id: str | None) -> str:
    """PUBLIC_SERVICE for a Rules 406 record, LAW for a record under the Law."""
    return LAW if basis(basis_id or DEFAULT_BASIS).law else PUBLIC_SERVICE


def row(use: str, basis_id: str | None) -> Use:
    fam = family(basis_id)
    return next(u for u in USES if u.use == use and u.family == fam)


def permitted(use: str, basis_id: str | None, requester_kind: str | None) -> bool:
    return requester_kind is not None and requester_kind in row(use, basis_id).kinds


def check_use(use: str, basis_id: str | None, requester_kind: str | None) -> Use:
    """The row allowing `use` of a record of `basis_id` by a requester of `requester_kind`, or the refusal."""
    found = row(use, basis_id)
    if requester_kind is None:
        raise refuse("requester_purpose_registered", "purpose_not_registered",
                     f"the requester has no kind registered at the centre: it may not {use}")
    if requester_kind not in found.kinds:
        who = ", ".join(found.kinds) or "no requester"
        refusal = refuse(found.rule_id if not found.kinds else "beyond_stated_purpose", "purpose_not_permitted",
                         f"a {requester_kind.replace('_', ' ')} may not {use} a record kept for "
                         f"{'public-service authentication' if found.family == PUBLIC_SERVICE else 'the Law'} "
                         f"(allowed: {who})")
        refusal.rule = f"{refusal.rule}; {found.citation}" if found.kinds else refusal.rule
        raise refusal
    return found


def may_use_at_all(use: str, requester_kind: str | None) -> bool:
    """Whether `use` is allowed to this kind for records of some basis (checked at intake, before any search)."""
    return any(requester_kind in u.kinds for u in USES if u.use == use)


def check_may_use(use: str, requester_kind: str | None) -> None:
    """Refuse a request whose requester may `use` no record at all (its kind, or none registered)."""
    if requester_kind is None:
        raise refuse("requester_purpose_registered", "purpose_not_registered",
                     f"the requester has no kind registered at the centre: it may not {use}")
    if not may_use_at_all(use, requester_kind):
        raise refuse("beyond_stated_purpose", "purpose_not_permitted",
                     f"a {requester_kind.replace('_', ' ')} may not {use} any record kept here")


# -------------------------------------------------------------- what an application may end

def ends_on_application(basis_id: str | None) -> bool:
    """Records with no term (public-service authentication) end on the person's application."""
    return basis(basis_id or DEFAULT_BASIS).term.kind == "until_application"


def split_by_basis(enrollments: list[dict]) -> tuple[list[dict], list[dict]]:
    """(records an application destroys, records kept under the Law's terms)."""
    ends = [e for e in enrollments if ends_on_application(e.get("legal_basis"))]
    return ends, [e for e in enrollments if not ends_on_application(e.get("legal_basis"))]


def kept_refusal(kept: list[dict], what: str) -> Refusal:
    """The refusal for records under the Law that an application (`what`) cannot end, naming the articles."""
    legal = basis(kept[0].get("legal_basis"))
    detail = (f"{what}: the record was collected under {legal.collected_under} and is kept for the term of "
              f"{legal.term.citation}; it is destroyed only on the grounds of the Law's Art.17")
    refusal = refuse("kept_under_the_law", "storage_term_set_by_law", detail)
    refusal.rule = f"{rule('kept_under_the_law').citation}; {legal.term.citation}"
    return refusal


def markdown_table() -> str:
    lines = ["| use | record kept for | allowed to (kind registered by the centre) | rule | citation |",
             "|---|---|---|---|---|"]
    for u in USES:
        kept_for = "public-service authentication (Rules 406)" if u.family == PUBLIC_SERVICE else "the Law"
        lines.append(f"| {u.use} | {kept_for} | {', '.join(u.kinds) or 'nobody'} | `{u.rule_id}` | {u.citation} |")
    return "\n".join(lines)
