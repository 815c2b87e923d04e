"""Legal rules as data, each with its source in `../shared/seeds/`.

Code refers to a rule by its id; refusals and exemptions carry the rule's
citation so an operator (or a court) can see why. One place for each rule.
Sources: RULES_406 = seeds/000_c9a1d0ccc509b167.txt (Order No. 406, 2020);
LAW_DACTYLO = seeds/003_9174b68ee745cd7a.txt (Law on dactyloscopic and
genomic registration); RULES_395 = seeds/004_08354cf5bc836636.txt.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import Refusal

RULES_406 = "Rules 406"
LAW_DACTYLO = "Law on dactyloscopic and genomic registration"
RULES_395 = "Rules 395"
#: The seed file each source is read from (/work/shared/seeds, INDEX.md).
SEEDS = {RULES_406: "seeds/000_c9a1d0ccc509b167.txt", LAW_DACTYLO: "seeds/003_9174b68ee745cd7a.txt",
         RULES_395: "seeds/004_08354cf5bc836636.txt"}


@dataclass(frozen=True)
class Rule:
    id: str
    summary: str
    source: str
    article: str

    @property
    def citation(self) -> str:
        """As a lawyer reads it: "Rules 406, p.4"; "Law on dactyloscopic and genomic registration, Art.10 p.2"."""
        return f"{self.source}, {self.article}"

    @property
    def seed(self) -> str:
        return SEEDS[self.source]


RULES: dict[str, Rule] = {r.id: r for r in [
    Rule("identity_and_consent", "identify the person by documents and obtain written consent before collection",
         RULES_406, "p.3; Annex"),
    Rule("identity_document", "the service recipient is identified by an identity document: the date of birth on "
         "it is the one the IIN carries", RULES_406, "p.3 para.1"),
    Rule("consent_on_annex_form", "the written consent is the form of the Annex: the applicant's full name, date of "
         "birth and IIN, the date of consent, the signature, and the employee who accepted it", RULES_406,
         "p.3 para.1; Annex"),
    Rule("consent_before_collection", "consent is received before the biometric data are collected",
         RULES_406, "p.3 para.1"),
    Rule("consent_conditions_explained", "the conditions and grounds for the use of the biometric data are "
         "explained to the service recipient", RULES_406, "p.3 para.2"),
    Rule("consent_for_the_purpose", "personal data are collected after the consent of the subject or their legal "
         "representative to that collection and processing: the consent names the basis collected under",
         RULES_395, "p.4, p.8"),
    Rule("adult_voluntary", "public-service authentication: collected from persons aged 18 or over, voluntarily",
         RULES_406, "p.4"),
    Rule("incapacitated_custodian", "a person found incapacitated by a court: in the presence and on the written "
         "application of the custodian (trustee)", RULES_406, "p.5; Law Art.11 p.3"),
    Rule("all_existing_fingers", "inkless scan of all existing fingers of both hands", RULES_406, "p.6"),
    Rule("injured_fingers_skipped", "injured fingers are skipped and the others taken", RULES_406, "p.7"),
    Rule("no_printable_fingers", "no fingers on both hands or no papillary patterns: not collected",
         RULES_406, "p.10; Law Art.10-1 p.4"),
    Rule("printable_fingers_only", "a finger is sent as captured only with a usable papillary pattern; one that "
         "cannot be printed is recorded as such (unable to print, injured) and the others taken",
         RULES_406, "p.6-7, p.10"),
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
    Rule("blocking_on_subject_demand", "when there is information that the conditions of collection or "
         "processing were violated, the subject demands that their data be blocked (received at a branch, on the "
         "written application of the subject or their representative)", RULES_395, "p.25"),
    Rule("blocking_stops_processing", "blocking temporarily stops collecting, changing, using, transferring, "
         "depersonalizing and destroying the information", LAW_DACTYLO, "Art.1 7); Art.9 p.2"),
    Rule("replacement_on_document", "registered again when a new document is decided under a basis whose "
         "re-applicants are not verified (seafarer's card, deportation or readmission): the new record replaces, "
         "the previous is archived", LAW_DACTYLO, "Art.10 p.2 sub.1, sub.5; Art.10 p.3"),
    Rule("replacement_not_damage", "a replaced identity document alone is not the ground of re-collection: only "
         "irreversible damage that prevents recognition is (the person is verified against their record)",
         RULES_406, "p.8"),
    # The state machines of enrollments and subjects (shared/legal/states.py)
    Rule("collection_under_rules", "collected and processed only where its protection is ensured and in the "
         "procedure of the registration rules: the centre opens the sealed packet and decides the application "
         "again before anything is stored", LAW_DACTYLO, "Art.8 p.3, p.5"),
    Rule("accumulation_in_resource", "the information obtained in registration is accumulated and stored by forming "
         "an electronic information resource (here: the record joins the 1:N gallery)", LAW_DACTYLO, "Art.14"),
    Rule("consent_withdrawal", "the subject or legal representative gives or withdraws consent in writing",
         RULES_395, "p.6"),
    # use only for the stated purposes (Rules 395 p.17-21): the rules below, applied by shared/legal/uses.py
    Rule("beyond_stated_purpose", "personal data are disseminated beyond the purposes stated at collection only "
         "with the consent of the subject or their legal representative", RULES_395, "p.18"),
    Rule("use_public_service_authentication", "biometric data collected under these Rules serve the biometric "
         "authentication of the person when public services are provided", RULES_406, "p.1, p.4"),
    Rule("use_law_identification", "dactyloscopic information is used to confirm and identify persons, register "
         "and control foreigners, ensure safety and control the state border", LAW_DACTYLO, "Art.16"),
    Rule("requester_purpose_registered", "a requester's kind (public service, authority, court, prosecutor, "
         "police…) is what the centre registered for it, never what a request declares", RULES_395, "p.17-21"),
    Rule("use_audited", "every use of the information (verification, identification, transfer) is recorded with "
         "the requester and its purpose, so that use for the stated purposes can be checked",
         LAW_DACTYLO, "Art.8 p.2, p.4"),
    # Retention and destruction at the end of retention (services/lifecycle/retention.py, docs/legal.md)
    Rule("retention_id_document", "registrants for an identity card or passport (Law Art.10 p.1): stored, once "
         "their death is established, a court recognises them missing or declares them dead, or they lose or "
         "renounce citizenship, until the date they would have turned one hundred", LAW_DACTYLO, "Art.15 p.1"),
    Rule("retention_ten_years", "mandatory categories (Law Art.10 p.2 sub.1-6) and children 12-16 for a passport "
         "(Art.10 p.4): stored ten years from the date of registration", LAW_DACTYLO, "Art.15 p.1"),
    Rule("retention_archive_forty_years", "after the ten years, those records are kept in archives for forty "
         "years", LAW_DACTYLO, "Art.15 p.2"),
    Rule("retention_public_service", "public-service authentication: no fixed term; kept until the person's "
         "application for destruction or withdrawal of consent (decision in docs/legal.md)",
         RULES_406, "p.11; Rules 395 p.6"),
    Rule("destruction_at_end_of_retention", "destroyed when the storage term of Art.15 expires",
         LAW_DACTYLO, "Art.17 p.2"),
    Rule("kept_under_the_law", "records kept under the Law are stored for the terms of Art.15 and destroyed "
         "only on the grounds of Art.17 (the term expired, under an act approved by the head of the unit); an "
         "application or a withdrawal of consent does not end them", LAW_DACTYLO, "Art.15; Art.17 p.2-3"),
    Rule("destruction_act_approved", "destruction at the end of retention is carried out under an act approved "
         "by the head of the authorised unit", LAW_DACTYLO, "Art.17 p.3"),
    # The subject's right to know (services/lifecycle/access.py)
    Rule("subject_access", "the subject may learn whether data are held, the purpose, sources, methods of "
         "collection and processing, the list of data and the terms of processing and storage",
         RULES_395, "p.15"),
    Rule("subject_access_term", "the information is given within 3 business days of receipt of the application",
         RULES_395, "p.16 para.1"),
    Rule("subject_access_refusal", "a refusal is a reasoned answer given within 3 working days of receipt",
         RULES_395, "p.16 para.2"),
    # Who is registered under the Law, and who is not (shared/legal/decide.py, docs/legal.md "Decision table")
    Rule("id_document_with_consent", "citizens applying for an identity card or passport (first time, restoration "
         "or replacement) are registered with their consent", LAW_DACTYLO, "Art.10 p.1"),
    Rule("mandatory_from_16", "the categories of Art.10 p.2 are registered, mandatorily, from the age of sixteen",
         LAW_DACTYLO, "Art.10 p.2"),
    Rule("mandatory_seafarer", "seafarer's identity card: mandatory from 16", LAW_DACTYLO, "Art.10 p.2 sub.1"),
    Rule("mandatory_residence_permit", "foreigners and stateless persons applying for a temporary or permanent "
         "residence permit: mandatory from 16", LAW_DACTYLO, "Art.10 p.2 sub.2"),
    Rule("mandatory_residence_card", "foreigner's residence permit or stateless person's certificate (first time, "
         "restoration, replacement): mandatory from 16", LAW_DACTYLO, "Art.10 p.2 sub.3"),
    Rule("mandatory_asylum_refugee", "asylum seeker status, refugee certificate or travel document: mandatory "
         "from 16", LAW_DACTYLO, "Art.10 p.2 sub.4"),
    Rule("mandatory_deportation_readmission", "foreigners and stateless persons subject to deportation or "
         "readmission: mandatory from 16", LAW_DACTYLO, "Art.10 p.2 sub.5"),
    Rule("mandatory_visa", "foreigners and stateless persons obtaining a visa of the Republic of Kazakhstan: "
         "mandatory from 16", LAW_DACTYLO, "Art.10 p.2 sub.6"),
    Rule("e_visa_carve_out", "visas issued in electronic format without visiting a foreign institution are "
         "excepted from registration", LAW_DACTYLO, "Art.10 p.2 sub.6"),
    Rule("reapplicant_verified", "persons already registered who apply again (Art.10 p.1, p.2 sub.2-4, 6) "
         "undergo identity verification, not registration", LAW_DACTYLO, "Art.10 p.3"),
    Rule("reregistration_irreversible_damage", "a re-applicant whose verification cannot succeed because of "
         "irreversible damage to the papillary patterns is registered again (decision in docs/legal.md)",
         LAW_DACTYLO, "Art.10 p.3"),
    Rule("passport_child_voluntary", "children aged 12 to 16 are registered, voluntarily, when receiving a "
         "passport", LAW_DACTYLO, "Art.10 p.4"),
    Rule("child_legal_representative", "children 12-16: with their consent, in the presence and on the written "
         "application of the legal representative", LAW_DACTYLO, "Art.11 p.2"),
    Rule("incapacitated_guardian", "a person found incapacitated by a court: in the presence and on the written "
         "application of the guardian", LAW_DACTYLO, "Art.11 p.3"),
    Rule("child_under_12_exempt", "children under twelve are exempt from registration", LAW_DACTYLO,
         "Art.10-1 p.1 sub.1"),
    Rule("visa_exempt_heads_of_state", "visa: heads of foreign states, governments, international organisations "
         "with diplomatic status, and their families", LAW_DACTYLO, "Art.10-1 p.2 sub.1"),
    Rule("visa_exempt_officials", "visa: members of parliaments and governments, persons with diplomatic status and "
         "their families with diplomatic passports, official delegations", LAW_DACTYLO, "Art.10-1 p.2 sub.2"),
    Rule("visa_exempt_honorary_consuls", "visa: honorary consuls of the Republic of Kazakhstan and their families",
         LAW_DACTYLO, "Art.10-1 p.2 sub.3"),
    Rule("visa_exempt_diplomatic_passport", "visa: holders of diplomatic passports (or equivalent) on official "
         "business", LAW_DACTYLO, "Art.10-1 p.2 sub.4"),
    Rule("visa_exempt_diplomatic_courier", "visa: diplomatic couriers with a diplomatic passport and a courier's "
         "letter", LAW_DACTYLO, "Art.10-1 p.2 sub.5"),
    Rule("visa_exempt_official_invitation", "visa: invited by the Administration of the President, Parliament, "
         "Supreme Court, Government, special state bodies, Ministry of Defence or foreign-policy body",
         LAW_DACTYLO, "Art.10-1 p.2 sub.6"),
    Rule("exempt_medical_commission", "persons unable to undergo fingerprinting are exempt from mandatory "
         "registration on the conclusion of a medical advisory commission", LAW_DACTYLO, "Art.10-1 p.4 para.1"),
    Rule("palms_deportation", "deportation or readmission, all fingers absent or without papillary patterns: "
         "registered on the palms", LAW_DACTYLO, "Art.10-1 p.4 para.2"),
    Rule("no_record_without_biometrics", "a record joins the registry only with the dactyloscopic information it "
         "is made of (papillary patterns of fingers or palms): a packet with none is refused", LAW_DACTYLO,
         "Art.1 5); Art.10-1 p.4"),
    Rule("one_date_rule", "ages and terms counted in years end on the same date of the last year; a date that "
         "month lacks (29 February) is its last day (28 February); decision in docs/legal.md", LAW_DACTYLO,
         "Art.15 p.1; Rules 406 p.4"),
    Rule("exempt_no_fingers_or_hands", "a person lacking all fingers or hands on both hands is exempt from "
         "registration", LAW_DACTYLO, "Art.10-1 p.4 para.3"),
    Rule("public_service_reapplicant_verified", "a person already collected is collected again only when not "
         "recognised because of irreversible damage; otherwise they are verified against the base",
         RULES_406, "p.8"),
    # Depersonalization, anonymization and transfers (services/lifecycle/depersonalization.py, anonymized.py,
    # transfers.py; docs/legal.md "Depersonalization, anonymization and transfers")
    Rule("depersonalization_by_authorised_body", "the authorised state bodies carry out depersonalization and its "
         "removal, in the procedure of the registration rules", LAW_DACTYLO, "Art.9 p.1, p.3; Art.1 9)"),
    Rule("anonymization_before_distribution", "depersonalization before distribution, by a method that keeps the "
         "processing task solvable; the anonymization procedure excludes reverse recovery of the original data",
         RULES_395, "p.20-21"),
    Rule("transfer_to_authorised_bodies", "transfer to courts, law enforcement, special state bodies, executive "
         "enforcement, inquiry and investigation bodies on the basis of the laws", LAW_DACTYLO, "Art.9 p.4"),
    Rule("transfer_to_foreign_state", "transfer to a foreign state only under an international treaty ratified by "
         "the Republic of Kazakhstan", LAW_DACTYLO, "Art.9 p.5"),
]}


def rule(rule_id: str) -> Rule:
    return RULES[rule_id]


def refuse(rule_id: str, code: str, detail: str) -> Refusal:
    """The one way a legal refusal is built: its `rule` is always the named rule's citation."""
    r = rule(rule_id)
    return Refusal(f"{detail} ({r.citation})", code=code, rule=r.citation)
