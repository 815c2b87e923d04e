"""Refusals: the specific, expected reasons a message is not accepted.

A refusal is not retried: the worker records a dead letter and, when the
sender awaits an answer, a REFUSED result carrying `code` and `rule`.
Messages name the reason and the rule, never the personal data involved.
"""
from __future__ import annotations


class Refusal(Exception):
    code = "refused"

    def __init__(self, detail: str, *, code: str | None = None, rule: str | None = None):
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code
        self.rule = rule
        self.request_id: str | None = None   # set once the refused message's ids are known,
        self.reply_to: str | None = None     # so the sender gets a REFUSED result
        self.kind: str | None = None         # the Result kind of the refused request, once known
