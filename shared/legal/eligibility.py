"""Consent checks shared by the station and the centre.

Who may be enrolled, under which basis and with which fingers is decided by
`shared.legal.decide.decide` (one decision per application, each with its
rule and citation); this module keeps the check of the written consent.
"""
from __future__ import annotations

from .rules import refuse


def check_consent(consent) -> None:
    if consent is None:
        raise refuse("identity_and_consent", "consent_missing", "no written consent")
