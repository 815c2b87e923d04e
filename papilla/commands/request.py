"""`papilla request …`: act as a public service (sealed request, wait for the result).

  papilla request verify SERVICE-ID --iin … --finger 2=probe.png [--finger 7=…]
  papilla request identify SERVICE-ID --finger 2=probe.png
  papilla request lifecycle SERVICE-ID ACTION --principal P-ID --reason … [--on-application-of subject]
                            [--iin … | --enrollment ID --decision …]
  papilla request result REQUEST-ID          (read a stored result after the fact)

The service's keys come from `papilla service init SERVICE-ID` (registered at the centre), the centre's
public key file from PAPILLA_CENTRE_PUBLIC_KEY or centre-public.json in PAPILLA_HOME; a lifecycle command is
signed by the principal's key (`papilla principal init`), kept in the same key directory.
"""
from __future__ import annotations

# lazy imports: `papilla` imports every command module to build its parser, so a command imports the services
# it runs (numba kernels, dramatiq, the store) inside its function, not for every `papilla --help`.

import functools
import json
import sys

from pydantic import ValidationError

from papilla.services.capture.devices import ScannerError
from papilla.shared.config import Settings
from papilla.shared.crypto.iin import InvalidIIN, validate_iin
from papilla.shared.parties import centre_public_path, load_centre_public_file, load_party


def _client(args):
    from papilla.client import PapillaClient
    from papilla.shared.broker import check_broker

    settings = Settings.from_env()
    load_party(settings, args.service_id)                    # no keys here: one sentence, before the broker
    load_centre_public_file(centre_public_path(settings))
    check_broker(settings.broker_url)   # wrong user, vhost or host: one sentence, not a pika traceback
    return PapillaClient.connect(broker_url=settings.broker_url, service_id=args.service_id,
                                 key_dir=settings.station_key_dir,
                                 centre_public_file=centre_public_path(settings)), settings


class Mistake(ValueError):
    """A mistake on the command line: one sentence, exit 2."""


def one_sentence(command):
    """`papilla request …` mistakes as one sentence on stderr and exit 2, never a traceback (like the rest)."""
    @functools.wraps(command)
    def run(args) -> int:
        try:
            return command(args)
        except InvalidIIN as exc:
            sentence = f"--iin is not a valid IIN: {exc} (check: {exc.reason.replace('_', ' ')})"
        except ValidationError as exc:          # pydantic hides the input: field and reason only
            err = exc.errors(include_input=False)[0]
            sentence = f"{'.'.join(map(str, err['loc'])) or 'request'}: {err['msg']}"
        except (ScannerError, ValueError, OSError) as exc:   # ConfigError and PartyError are ValueErrors
            sentence = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"papilla: {sentence}", file=sys.stderr)
        return 2
    return run


def _images(pairs: list[str]) -> dict[int, object]:
    """The probe images, read before anything is sent (a missing or unreadable file is a Mistake)."""
    from pathlib import Path

    from papilla.services.capture.devices import FolderScanner

    images = {}
    for pair in pairs:
        position, _, path = pair.partition("=")
        if not position.isdigit() or not 1 <= int(position) <= 10 or not path:
            raise Mistake(f"--finger expects POSITION=FILE with a position 1-10, got {pair!r}")
        file = Path(path)
        if not file.is_file():
            raise Mistake(f"--finger {position}: {file}: no such file")
        images[int(position)] = FolderScanner(file.parent, {int(position): file.name}).capture(int(position))
    return images


def _print(result) -> int:
    print(json.dumps(json.loads(result.model_dump_json(by_alias=True)), indent=2))
    if result.status == "REFUSED":
        print(f"refused: {result.detail or result.reason}" + (f" ({result.rule})" if result.rule else ""),
              file=sys.stderr)
        return 2
    return 0


@one_sentence
def verify(args) -> int:
    iin, images = validate_iin(args.iin), _images(args.finger)     # mistakes first, before connecting
    client, settings = _client(args)
    try:
        return _print(client.wait(client.verify(iin, images), args.timeout or settings.result_wait_s))
    finally:
        client.close()


@one_sentence
def identify(args) -> int:
    if args.max_candidates < 1:
        raise Mistake("--max-candidates must be 1 or more")
    images = _images(args.finger)
    client, settings = _client(args)
    try:
        rid = client.identify(images, max_candidates=args.max_candidates)
        return _print(client.wait(rid, args.timeout or settings.result_wait_s))
    finally:
        client.close()


@one_sentence
def lifecycle(args) -> int:
    if args.iin is not None:
        validate_iin(args.iin)
    if args.action == "adjudicate" and not (args.enrollment and args.decision):
        raise Mistake("adjudicate needs --enrollment ID and --decision distinct_person|same_person_reject")
    for signer in (args.principal, args.approver):          # their keys, before the broker is asked
        if signer:
            load_party(Settings.from_env(), signer)
    client, settings = _client(args)
    try:
        transfer = None
        if args.action == "transfer":
            from papilla.shared.messages import TransferOrder

            if not (args.recipient and args.legal_basis and args.approver):   # the kind: the centre's registration
                print("papilla: a transfer needs --recipient, --legal-basis and --approver",
                      file=sys.stderr)
                return 2
            from pydantic import ValidationError

            try:
                transfer = TransferOrder(recipient_id=args.recipient, recipient_kind=args.recipient_kind,
                                         legal_basis=args.legal_basis, treaty=args.treaty,
                                         include_images=args.with_images)
            except ValidationError as exc:   # pydantic hides the input: the reason only
                print(f"papilla: transfer order: {exc.errors(include_input=False)[0]['msg']}", file=sys.stderr)
                return 2
        rid = client.lifecycle(args.action, principal=load_party(settings, args.principal), reason=args.reason,
                               iin=args.iin, enrollment_id=args.enrollment, decision=args.decision,
                               on_application_of=args.on_application_of, transfer=transfer,
                               approver=load_party(settings, args.approver) if args.approver else None)
        return _print(client.wait(rid, args.timeout or settings.result_wait_s))
    finally:
        client.close()


@one_sentence
def result(args) -> int:
    from papilla.shared.results import stored_result
    from papilla.shared.store import open_store

    found = stored_result(open_store(Settings.from_env().store_uri), args.request_id)
    if found is None:
        print(f"no stored result for {args.request_id}", file=sys.stderr)
        return 1
    return _print(found)


def register(sub) -> None:
    from papilla.shared.messages import RECIPIENT_KINDS

    parser = sub.add_parser("request", help="send a verify / identify / lifecycle request as a service")
    rq = parser.add_subparsers(dest="request_command", required=True)
    for name, func in (("verify", verify), ("identify", identify)):
        p = rq.add_parser(name)
        p.add_argument("service_id")
        if name == "verify":
            p.add_argument("--iin", required=True)
        else:
            p.add_argument("--max-candidates", type=int, default=10)
        p.add_argument("--finger", action="append", required=True, metavar="POSITION=FILE")
        p.add_argument("--timeout", type=float)
        p.set_defaults(func=func)
    p = rq.add_parser("lifecycle")
    p.add_argument("service_id")
    p.add_argument("action", choices=("block", "block_on_demand", "unblock", "destroy", "withdraw_consent",
                                      "adjudicate",
                                      "depersonalize", "remove_depersonalization", "transfer", "receive_access_request"))
    p.add_argument("--reason", required=True)
    p.add_argument("--principal", required=True, help="the registered person or body deciding (signs)")
    p.add_argument("--on-application-of", choices=("subject", "legal_representative", "custodian"))
    p.add_argument("--iin")
    p.add_argument("--enrollment")
    p.add_argument("--decision", choices=("distinct_person", "same_person_reject"))
    p.add_argument("--recipient", help="transfer: the registered recipient party id")
    p.add_argument("--recipient-kind", choices=RECIPIENT_KINDS, help="transfer: court, law_enforcement, …")
    p.add_argument("--legal-basis", help="transfer: the law and the decision or request it rests on")
    p.add_argument("--treaty", help="transfer to a foreign state: the ratified treaty (Law Art.9 p.5)")
    p.add_argument("--with-images", action="store_true", help="transfer: the finger images too, not only templates")
    p.add_argument("--approver", help="transfer: the second principal approving it (signs the same command)")
    p.add_argument("--timeout", type=float)
    p.set_defaults(func=lifecycle)
    p = rq.add_parser("result")
    p.add_argument("request_id")
    p.set_defaults(func=result)
