"""A broker user per registered station or service, with the least permissions its work needs.

RabbitMQ checks three regular expressions per user and vhost (configure, write, read) against exchange and
queue names, and, on topic exchanges, topic permissions against routing keys. A party:

- configures nothing (`^$`): the centre declared its results queue and binding, the party only opens them
  with a passive declare;
- writes to the intake exchange alone (`papilla.intake`, never `amq.default`, which reaches every queue),
  with the routing keys of what its kind sends (a station: packets; a service: requests and commands);
- reads its own results queue alone, and no exchange: it cannot bind a queue to anyone's routing key.

`party_permissions` is the one definition: `papilla centre broker-user PARTY` prints it as rabbitmqctl lines,
and the template users of infra/rabbitmq/definitions.json are checked against it (tests/ops).
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from .routing import INTAKE_EXCHANGE, PARTY_ROUTES, results_queue

#: What RabbitMQ's regular expressions must not see unescaped in a party id (ids: registry.SENDER_ID_RE).
_REGEX_SPECIAL = re.compile(r"([.\\^$|?*+()\[\]{}])")


def literal(name: str) -> str:
    """A regular expression matching exactly `name` (RabbitMQ's permissions are PCRE, unanchored otherwise)."""
    return "^" + _REGEX_SPECIAL.sub(r"\\\1", name) + "$"


@dataclass(frozen=True)
class PartyPermissions:
    """One party's permissions on one vhost, as RabbitMQ stores them."""
    user: str
    configure: str
    write: str
    read: str
    topic_exchange: str
    topic_write: str
    topic_read: str


def party_permissions(party_id: str, kind: str) -> PartyPermissions:
    """Least permissions of a registered station or service (`kind`)."""
    if kind not in PARTY_ROUTES:
        raise ValueError(f"{party_id} is a {kind}: only stations and services get a broker user of their own")
    keys = "|".join(_REGEX_SPECIAL.sub(r"\\\1", queue) for queue in dict.fromkeys(r.queue for r in PARTY_ROUTES[kind]))
    return PartyPermissions(user=party_id, configure="^$", write=literal(INTAKE_EXCHANGE),
                            read=literal(results_queue(party_id)), topic_exchange=INTAKE_EXCHANGE,
                            topic_write=f"^({keys})$", topic_read="^$")


def rabbitmqctl_lines(permissions: PartyPermissions, vhost: str) -> list[str]:
    """The commands an administrator runs on the broker's host to create the user (the password is read from
    standard input, so it stays out of shell history and the process list)."""
    p, q = permissions, shlex.quote
    return [
        f"rabbitmqctl add_user {q(p.user)}",
        f"rabbitmqctl set_permissions -p {q(vhost)} {q(p.user)} {q(p.configure)} {q(p.write)} {q(p.read)}",
        f"rabbitmqctl set_topic_permissions -p {q(vhost)} {q(p.user)} {q(p.topic_exchange)} "
        f"{q(p.topic_write)} {q(p.topic_read)}",
    ]
