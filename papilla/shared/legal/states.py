"""The lifecycle state machines of enrollments and subjects, as data (one place).

Every transition is a row: the states it leaves from, the state it reaches, the trigger that asks for it,
and the rule that allows it (its citation through `rules.rule`). Every change of an enrollment's or a
subject's state in the code goes through `move_enrollment` / `move_subject` (or, for records about to be
deleted, `check_enrollment` / `check_subject`); a transition that is not a row is refused with a Refusal
built by `rules.refuse`, naming the current state, the asked trigger and the rule's citation.

Enrollments::

    PENDING ──extracted──▶ EXTRACTED ──admitted──▶ ACTIVE
                                     ──held_for_review / held_blocked──▶ PENDING_REVIEW
    PENDING_REVIEW ──adjudicated_distinct──▶ ACTIVE;  ──adjudicated_same_person──▶ REJECTED
    ACTIVE ──recollected / document_replaced / retention_archived──▶ ARCHIVED
    any stored state ──destroyed_on_application / consent_withdrawn / retention_expired──▶ DESTROYED (deleted)

PENDING is the sealed packet on its way: intake opens, decides and extracts it before the first write, so
a stored enrollment starts at EXTRACTED (`initial_enrollment_state` checks the PENDING → EXTRACTED row).

Subjects::

    REGISTERED ──block / block_on_demand──▶ BLOCKED ──unblock──▶ the state before blocking (REGISTERED or DEPERSONALIZED)
    REGISTERED ──depersonalize──▶ DEPERSONALIZED ──remove_depersonalization──▶ REGISTERED
    REGISTERED / DEPERSONALIZED ──destroyed_on_application / consent_withdrawn / retention_expired──▶ DESTROYED

Acts that change no state but use or change the subject's information (a new enrollment of a registered
subject, a transfer) are rows too (`dst` KEEP), so that blocking refuses them the same way. While a
subject is BLOCKED only the rows marked `while_blocked` apply (blocking temporarily stops collecting,
changing, using, transferring, depersonalizing and destroying, Law Art.1 7); Art.9 p.2).
"""
from __future__ import annotations

from dataclasses import dataclass

from papilla.shared import names
from papilla.shared.names import SUBJECTS

from .rules import refuse, rule

ENROLLMENT, SUBJECT = "enrollment", "subject"

# Enrollment states
PENDING, EXTRACTED, ACTIVE = "PENDING", "EXTRACTED", "ACTIVE"
PENDING_REVIEW, REJECTED, ARCHIVED = "PENDING_REVIEW", "REJECTED", "ARCHIVED"
# Subject states
REGISTERED, BLOCKED, DEPERSONALIZED = "REGISTERED", "BLOCKED", "DEPERSONALIZED"
# Both
DESTROYED = "DESTROYED"
#: `dst` of a row that changes no state; of the unblocking row: back to the state before blocking
KEEP, PREVIOUS = "(unchanged)", "(state before blocking)"

ENROLLMENT_STATES = (PENDING, EXTRACTED, ACTIVE, PENDING_REVIEW, REJECTED, ARCHIVED, DESTROYED)
SUBJECT_STATES = (REGISTERED, BLOCKED, DEPERSONALIZED, DESTROYED)
#: enrollment states a stored record can be in (DESTROYED records are deleted, PENDING ones not yet written)
STORED = (EXTRACTED, ACTIVE, PENDING_REVIEW, REJECTED, ARCHIVED)
#: subject states a subject can be destroyed from (a blocked subject waits, decision in docs/legal.md)
DESTROYABLE = (REGISTERED, DEPERSONALIZED)
#: the field of a blocked subject that keeps the state blocking interrupted
BLOCKED_FROM = "blocked_from"


@dataclass(frozen=True)
class Transition:
    """One allowed transition.

    machine:       ENROLLMENT or SUBJECT
    src:           the states it leaves from
    dst:           the state it reaches (KEEP: no change; PREVIOUS: the state before blocking)
    trigger:       what asks for it (a command, a pipeline step, the sweep)
    rule_id:       the rule in `rules.RULES` that allows it
    what:          one line for the table in docs/legal.md
    while_blocked: allowed while the subject is BLOCKED (default False: blocking stops it)
    """

    machine: str
    src: tuple[str, ...]
    dst: str
    trigger: str
    rule_id: str
    what: str
    while_blocked: bool = False

    @property
    def citation(self) -> str:
        return rule(self.rule_id).citation


_DESTRUCTIONS = (("destroyed_on_application", "destruction_same_day",
                  "on the written application of the person, legal representative or custodian, the same day"),
                 ("consent_withdrawn", "consent_withdrawal",
                  "consent withdrawn in writing under the public-service basis"),
                 ("retention_expired", "destruction_at_end_of_retention",
                  "storage term expired, under an approved act of destruction"))

TRANSITIONS: tuple[Transition, ...] = (
    Transition(ENROLLMENT, (PENDING,), EXTRACTED, "extracted", "collection_under_rules",
               "the sealed packet is opened, the application decided again at the centre, templates extracted and "
               "stored encrypted"),
    Transition(ENROLLMENT, (EXTRACTED,), ACTIVE, "admitted",
               "accumulation_in_resource", "no possible duplicate: the record joins the 1:N gallery"),
    Transition(ENROLLMENT, (EXTRACTED, PENDING_REVIEW), PENDING_REVIEW, "held_for_review", "reapplicant_verified",
               "a possible duplicate, or the person already has an ACTIVE record and no re-collection reason: "
               "an adjudicator decides"),
    Transition(ENROLLMENT, (EXTRACTED,), PENDING_REVIEW, "held_blocked", "blocking_stops_processing",
               "the subject is blocked: the record waits for a person instead of joining the gallery",
               while_blocked=True),
    Transition(ENROLLMENT, (PENDING_REVIEW,), ACTIVE, "adjudicated_distinct", "accumulation_in_resource",
               "the adjudicator decides it is a distinct person: the record joins the 1:N gallery"),
    Transition(ENROLLMENT, (PENDING_REVIEW,), REJECTED, "adjudicated_same_person", "reapplicant_verified",
               "the adjudicator decides it is a person already registered: verified, not registered again"),
    Transition(ENROLLMENT, (ACTIVE,), ARCHIVED, "recollected", "recollection_irreversible_damage",
               "re-collection after irreversible damage: the new record replaces it, this one is archived"),
    Transition(ENROLLMENT, (ACTIVE,), ARCHIVED, "document_replaced", "replacement_on_document",
               "re-registration on a restored or replaced identity document: this record is archived"),
    Transition(ENROLLMENT, (ACTIVE,), ARCHIVED, "retention_archived", "retention_archive_forty_years",
               "ten years passed: the record leaves the gallery for the forty-year archive"),
    *(Transition(ENROLLMENT, STORED, DESTROYED, trigger, rule_id, what) for trigger, rule_id, what in _DESTRUCTIONS),
    Transition(SUBJECT, (REGISTERED,), KEEP, "enrolled", "collection_under_rules",
               "a further enrollment of a registered subject is accepted (collecting, supplementing)"),
    Transition(SUBJECT, (REGISTERED,), KEEP, "transferred", "transfer_to_authorised_bodies",
               "the information is transferred to an authorised body or, under a treaty, a foreign state"),
    Transition(SUBJECT, (REGISTERED, DEPERSONALIZED), BLOCKED, "block", "blocking_by_authorised_body",
               "a violation of the conditions of collection or processing is reported"),
    Transition(SUBJECT, (REGISTERED, DEPERSONALIZED), BLOCKED, "block_on_demand", "blocking_on_subject_demand",
               "the subject demands it at a branch, reporting a violation of the conditions of collection or "
               "processing; lifted by the authorised body after verification"),
    Transition(SUBJECT, (BLOCKED,), PREVIOUS, "unblock", "blocking_by_authorised_body",
               "verified and the violation eliminated: back to the state before blocking", while_blocked=True),
    Transition(SUBJECT, (REGISTERED,), DEPERSONALIZED, "depersonalize", "depersonalization_by_authorised_body",
               "the IIN link and identifying fields are sealed under the depersonalization key"),
    Transition(SUBJECT, (DEPERSONALIZED,), REGISTERED, "remove_depersonalization",
               "depersonalization_by_authorised_body", "the link and fields are restored with the same key"),
    *(Transition(SUBJECT, DESTROYABLE, DESTROYED, trigger, rule_id, what) for trigger, rule_id, what in _DESTRUCTIONS),
)


def rows(machine: str, trigger: str) -> list[Transition]:
    return [t for t in TRANSITIONS if t.machine == machine and t.trigger == trigger]


def transition(machine: str, state: str, trigger: str, *, subject_state: str | None = None,
               record: str | None = None) -> Transition:
    """The row that lets `trigger` move a `machine` record from `state`, or raise the refusal citing the rule.

    `subject_state` is the subject's state (for an enrollment; a subject's own state for a subject): while it
    is BLOCKED only rows marked `while_blocked` apply. `record` names the record in the refusal (an id)."""
    candidates = rows(machine, trigger)
    if not candidates:
        raise ValueError(f"no {machine} transition is triggered by {trigger!r}")   # a programming error
    name = f"{machine} {record}" if record else f"the {machine}"
    blocked = (subject_state if machine == ENROLLMENT else state) == BLOCKED
    whose = " and its subject is BLOCKED" if machine == ENROLLMENT else ""
    for row in candidates:
        if state in row.src and (row.while_blocked or not blocked):
            return row
    if blocked:
        raise refuse("blocking_stops_processing", "subject_blocked",
                     f"{name} is {state}{whose}: {trigger} is not allowed until the authorised body lifts the blocking")
    allowed = sorted({s for row in candidates for s in row.src})
    raise refuse(candidates[0].rule_id, "invalid_transition",
                 f"{name} is {state}: {trigger} applies only from {', '.join(allowed)}")


def target(row: Transition, state: str, previous: str | None = None) -> str:
    """The state `row` reaches from `state` (`previous`: a blocked subject's state before blocking)."""
    if row.dst == KEEP:
        return state
    if row.dst == PREVIOUS:
        return previous or REGISTERED
    return row.dst


def initial_enrollment_state() -> str:
    """The state a new enrollment record is written in (PENDING → EXTRACTED, checked)."""
    return target(transition(ENROLLMENT, PENDING, "extracted"), PENDING)


def subject_state(subject: dict | None) -> str:
    """A subject document's state; None (no such subject, or deleted) reads as DESTROYED."""
    return DESTROYED if subject is None else subject.get("state", REGISTERED)


def is_blocked(subject: dict | None) -> bool:
    return subject_state(subject) == BLOCKED


def check_enrollment(enrollment: dict, trigger: str, subject: dict | None) -> Transition:
    return transition(ENROLLMENT, enrollment["state"], trigger, subject_state=subject_state(subject),
                      record=enrollment["_id"])


def check_subject(subject: dict, trigger: str) -> Transition:
    return transition(SUBJECT, subject_state(subject), trigger)


def move_enrollment(store, enrollment: dict, trigger: str, subject: dict | None, **fields) -> bool:
    """Check and apply `trigger` to `enrollment` as one compare-and-set on its current state.

    Returns False when the stored state changed meanwhile (a redelivery or a concurrent decision: the caller
    reads the record again). Raises the rule's Refusal for a transition that is not in the table."""
    row = check_enrollment(enrollment, trigger, subject)
    dst = target(row, enrollment["state"])
    return store.update(names.ENROLLMENTS, {"_id": enrollment["_id"], "state": enrollment["state"]},
                        set={"state": dst, "state_trigger": trigger, **fields}) == 1


def move_subject(store, subject: dict, trigger: str, *, unset: tuple[str, ...] = (), **fields) -> str | None:
    """Check and apply `trigger` to `subject` (compare-and-set on its state); the new state, or None when the
    stored state changed meanwhile. Blocking keeps the interrupted state; unblocking returns to it."""
    state = subject_state(subject)
    row = check_subject(subject, trigger)
    dst = target(row, state, subject.get(BLOCKED_FROM))
    if dst == state and not fields and not unset:
        return state
    updates, unset = {"state": dst, **fields}, list(unset)
    if dst == BLOCKED:
        updates[BLOCKED_FROM] = state
    elif state == BLOCKED:
        unset.append(BLOCKED_FROM)
    changed = store.update(names.SUBJECTS, {"_id": subject["_id"], "state": state}, set=updates, unset=unset or None)
    return dst if changed == 1 else None


def migrate_legacy_subjects(store, *, batch: int = 1000) -> int:
    """Give every subject written before the state machine (no `state`; a boolean `blocked`) its state: BLOCKED
    (interrupting REGISTERED) where `blocked` was set, else REGISTERED. Idempotent; each record a compare-and-set
    on the missing state, so a concurrent migration or state change is never overwritten. Returns how many."""
    migrated = 0
    while legacy := store.find(SUBJECTS, {"state": None}, limit=batch):
        for subject in legacy:
            updates = ({"state": BLOCKED, BLOCKED_FROM: REGISTERED} if subject.get("blocked")
                       else {"state": REGISTERED})
            migrated += store.update(SUBJECTS, {"_id": subject["_id"], "state": None}, set=updates,
                                     unset=["blocked"] if "blocked" in subject else None)
    return migrated


def markdown_table(machine: str) -> str:
    """The table rendered for docs/legal.md (a test compares the doc with this, so they cannot drift)."""
    lines = ["| from | to | trigger | rule id | citation | while blocked |", "|---|---|---|---|---|---|"]
    for t in TRANSITIONS:
        if t.machine == machine:
            lines.append(f"| {', '.join(t.src)} | {t.dst} | `{t.trigger}` | `{t.rule_id}` | {t.citation} | "
                         f"{'allowed' if t.while_blocked else 'refused'} |")
    return "\n".join(lines)
