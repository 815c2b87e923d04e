"""The operator's side of `papilla station enroll`: the facts typed as flags, and the choices during capture.

`decisions_from_args` answers the station's questions (`services.capture.workflow.OperatorDecisions`):
at a terminal it asks the operator (`PromptDecisions`); in a script it follows `--below-gate` (default
abort: nothing is sent). `document_from_args` and `consent_from_args` turn the flags into the identity
document and the consent form; nothing about consent is assumed (`--consent-ref` and
`--conditions-explained` are the operator's own statements).
"""
from __future__ import annotations

import argparse
import sys
from datetime import date, datetime
from typing import Callable

from papilla.services.capture.devices import ScannerError
from papilla.services.capture.station import ConsentForm, default_signer
from papilla.services.capture.workflow import (BELOW_GATE_ACTIONS, EXCEPTION_RULES, Attempt, Choice, FixedChoice,
                                               attempt_line)
from papilla.shared.legal.decide import Policy
from papilla.shared.messages import DOCUMENT_TYPES, SIGNERS, IdentityDocument


def iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 1990-05-17") from None


def add_enroll_flags(p) -> None:
    """The identity, consent and capture flags of `papilla station enroll`."""
    doc = p.add_argument_group("identity document (Rules 406 p.3)")
    doc.add_argument("--document-type", required=True, choices=DOCUMENT_TYPES)
    doc.add_argument("--document-number", required=True)
    doc.add_argument("--document-birth-date", required=True, type=iso_date, metavar="YYYY-MM-DD",
                     help="the date of birth printed on the document (checked against the IIN)")
    con = p.add_argument_group("written consent on the Annex form of Rules 406")
    con.add_argument("--consent-ref", metavar="REF",
                     help="reference of the signed consent form (scan or register number); required for every "
                          "basis but the mandatory categories of Law Art.10 p.2, which register without consent")
    con.add_argument("--consent-signed-on", type=iso_date, metavar="YYYY-MM-DD",
                     help="the date of consent on the form (default: today, in the applicant's local zone)")
    con.add_argument("--conditions-explained", action="store_true",
                     help="you explained the conditions and grounds of use (Rules 406 p.3); without it, refused")
    con.add_argument("--consent-signed-by", choices=SIGNERS,
                     help="who signed (default: the custodian present for a person found incapacitated, else the "
                          "applicant)")
    con.add_argument("--consent-application", metavar="REF",
                     help="the signer's written application (default: the one given with --present for their role)")
    cap = p.add_argument_group("capture")
    cap.add_argument("--below-gate", choices=BELOW_GATE_ACTIONS,
                     help="when a finger stays below the quality gate: retake, exception or abort (default: ask at "
                          "a terminal, abort in a script; abort sends nothing)")
    cap.add_argument("--exception-reason", choices=tuple(EXCEPTION_RULES),
                     help="with --below-gate exception: the finger's status (Rules 406 p.6-7, p.10)")
    cap.add_argument("--attempts", type=int, default=3, metavar="N",
                     help="captures of a finger before you are asked (default 3; retakes up to 3×N in all)")


def document_from_args(args) -> IdentityDocument:
    return IdentityDocument(type=args.document_type, number=args.document_number, birth_date=args.document_birth_date)


def consent_from_args(args, legal_capacity: str, present: tuple) -> ConsentForm | None:
    """The signed form, or None when no --consent-ref is given (refused later unless the basis is mandatory)."""
    if args.consent_ref is None:
        if args.conditions_explained or args.consent_signed_on or args.consent_signed_by or args.consent_application:
            raise ValueError("consent flags given without --consent-ref: give the signed form's reference")
        return None
    signed_by, application = default_signer(legal_capacity, present)
    if args.consent_signed_by and args.consent_signed_by != signed_by:
        signed_by = args.consent_signed_by
        application = next((p.written_application for p in present
                            if p.role == signed_by or (signed_by == "custodian" and p.role == "trustee")), None)
    signed_on = args.consent_signed_on or datetime.now(Policy.from_env().tz()).date()
    return ConsentForm(signature_ref=args.consent_ref, signed_on=signed_on,
                       conditions_explained=args.conditions_explained, signed_by=signed_by,
                       application_ref=args.consent_application or application)


def decisions_from_args(args, *, interactive: bool | None = None):
    """At a terminal (and no --below-gate): ask. Otherwise the flag's choice for every finger."""
    if args.below_gate == "exception" and not args.exception_reason:
        raise ValueError("--below-gate exception needs --exception-reason "
                         f"({' | '.join(EXCEPTION_RULES)}): say why the finger cannot be taken")
    if args.exception_reason and args.below_gate != "exception":
        raise ValueError("--exception-reason goes with --below-gate exception")
    if args.below_gate is None and (sys.stdin.isatty() if interactive is None else interactive):
        return PromptDecisions()
    action = args.below_gate or "abort"
    # each capture's quality, live, for an operator watching a terminal; a script reads the receipt
    say = print if sys.stdout.isatty() and not getattr(args, "json", False) else (lambda line: None)
    return FixedChoice(Choice(action, args.exception_reason if action == "exception" else None), say=say)


class PromptDecisions:
    """Asks the operator at the terminal. `ask` reads one answer (input); end of input counts as abort."""

    def __init__(self, ask: Callable[[str], str] = input, say: Callable[[str], None] = print):
        self.ask, self.say = ask, say

    def show(self, attempt: Attempt) -> None:
        self.say(attempt_line(attempt))

    def below_gate(self, attempt: Attempt, retake_allowed: bool) -> Choice:
        options = {"e": "exception", "a": "abort"} | ({"r": "retake"} if retake_allowed else {})
        question = (f"finger {attempt.position} stays below the gate (best {attempt.best_quality} / "
                    f"{attempt.gate}): " + ", ".join(f"[{k}]{v[1:]}" for k, v in sorted(options.items())) + "? ")
        action = self._pick(question, options)
        if action != "exception":
            return Choice(action)
        reasons = {"u": "unable_to_print", "i": "injured", "a": "amputated"}
        status = self._pick("why: [u]nable to print, [i]njured, [a]mputated? ", reasons)
        return Choice("abort") if status == "abort" else Choice("exception", status)

    def scanner_failed(self, position: int, error: ScannerError) -> bool:
        return self._pick(f"scanner: {error} Try again? [y]es, [n]o? ", {"y": "yes", "n": "no"}, on_eof="no") == "yes"

    def _pick(self, question: str, options: dict[str, str], on_eof: str = "abort") -> str:
        while True:
            try:
                answer = self.ask(question).strip().lower()[:1]
            except EOFError:          # the terminal closed: nothing is sent
                return on_eof
            if answer in options:
                return options[answer]
            self.say(f"please answer one of: {', '.join(sorted(options))}")
