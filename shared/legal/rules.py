"""Legal rules as data, each with its source in `../shared/seeds/`.

Code refers to a rule by its id; refusals and exemptions carry the rule's
citation so an operator (or a court) can see why. One place for each rule.
Sources: RULES_406 = seeds/000_c9a1d0ccc509b167.txt (Order No. 406, 2020);
LAW_DACTYLO = seeds/003_9174b68ee745cd7a.txt (Law on dactyloscopic and
genomic registration); RULES_395 = seeds/004_08354cf5bc836636.txt.
"""
from __future__ import annotations

from dataclasses import dataclass

RULES_406 = "Rules 406 (seeds/000_c9a1d0ccc509b167.txt)"
LAW_DACTYLO = "Law on dactyloscopic and genomic registration (seeds/003_9174b68ee745cd7a.txt)"
RULES_395 = "Rules 395 (seeds/004_08354cf5bc836636.txt)"


@dataclass(frozen=True)
class Rule:
    id: str
    summary: str
    source: str
    article: str

    @property
    def citation(self) -> str:
        return f"{self.source} {self.article}"


RULES: dict[str, Rule] = {r.id: r for r in [
    Rule("identity_and_consent", "identify the person by documents and obtain written consent before collection",
         RULES_406, "p.3; Annex"),
    Rule("adult_voluntary", "public-service authentication: collected from persons aged 18 or over, voluntarily",
         RULES_406, "p.4"),
    Rule("incapacitated_custodian", "a person found incapacitated by a court: in the presence and on the written "
         "application of the custodian (trustee)", RULES_406, "p.5; Law Art.11 p.3"),
    Rule("all_existing_fingers", "inkless scan of all existing fingers of both hands", RULES_406, "p.6"),
    Rule("injured_fingers_skipped", "injured fingers are skipped and the others taken", RULES_406, "p.7"),
    Rule("no_printable_fingers", "no fingers on both hands or no papillary patterns: not collected",
         RULES_406, "p.10; Law Art.10-1 p.4"),
    Rule("recollection_irreversible_damage", "re-collection with consent after irreversible damage; new data "
         "replaces, previous archived", RULES_406, "p.8-9"),
    Rule("destruction_same_day", "destruction on application of the person, legal representative or custodian, "
         "on the day received", RULES_406, "p.11"),
    Rule("cryptographic_protection", "storage and transmission under cryptographic protection",
         RULES_406, "p.13; Law Art.8"),
    Rule("blocking", "blocking when a violation is reported; unblocking after verification",
         LAW_DACTYLO, "Art.9; Rules 395 p.25"),
    Rule("blocking_by_authorised_body", "the authorised state body blocks, and removes blocking after "
         "verification and elimination of the violation", LAW_DACTYLO, "Art.9 p.2"),
    Rule("blocking_stops_processing", "blocking temporarily stops collecting, changing, using, transferring, "
         "depersonalizing and destroying the information", LAW_DACTYLO, "Art.1 7); Art.9 p.2"),
    Rule("replacement_on_document", "re-registration when an identity document is restored or replaced",
         LAW_DACTYLO, "Art.10 p.1; Rules 406 p.9"),
    Rule("consent_withdrawal", "the subject or legal representative gives or withdraws consent in writing",
         RULES_395, "p.6"),
    Rule("purpose_limitation", "use only for the stated purposes", RULES_395, "p.17-21"),
]}


def rule(rule_id: str) -> Rule:
    return RULES[rule_id]
