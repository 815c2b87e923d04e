"""The centre console's adjudication pages: the queue of enrollments in PENDING_REVIEW (and, apart, those
whose 1:N search never completed, which cannot be decided until it does), one case (both
ten-prints side by side with their minutiae, each finger's pair with the matcher's paired minutiae joined,
per-finger and fused scores against their thresholds) and the decision, signed with the adjudicator's key,
checked by `check_signed_by` like every lifecycle command and carried out by
`services/lifecycle/commands.adjudicate` (which audits it and answers the station)."""
from __future__ import annotations

import secrets

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from papilla.services.lifecycle import commands
from papilla.shared.centre import Centre
from papilla.shared.errors import Refusal
from papilla.shared.messages import LifecycleAction, LifecycleCommand, Result
from papilla.shared.parties import PartyKeys
from papilla.shared.principals import check_signed_by, sign

from . import centre_views


def adjudicate(centre: Centre, keys: PartyKeys, enrollment_id: str, decision: str, reason: str) -> Result:
    """The adjudicator's decision as a signed lifecycle command, checked and carried out as the worker does."""
    command = LifecycleCommand(request_id=f"adj-{secrets.token_hex(12)}", reply_to=keys.party_id,
                               action=LifecycleAction("adjudicate"), enrollment_id=enrollment_id, decision=decision,
                               reason=reason or "adjudicated at the centre console", principal_id=keys.party_id)
    command = sign(command, "principal_signature", keys.signing)
    check_signed_by(centre.senders, command.principal_id, command.principal_signature, command, "adjudicate")
    return commands.adjudicate(centre, {"_id": command.request_id, "action": "adjudicate",
                                        "enrollment_id": enrollment_id, "decision": decision,
                                        "principal_id": command.principal_id, "reason": command.reason})


def _pick(request: Request) -> int:
    try:
        return max(0, int(request.query_params.get("candidate", "0") or 0))
    except ValueError:
        raise HTTPException(422, "candidate is the position of a candidate in the list (0, 1, …)") from None


def routes(console, keys_of) -> list[Route]:
    """`console`: the CentreConsole; `keys_of(session)`: the signed-in principal's keys."""

    async def queue(request: Request) -> Response:
        console.acting(request, "adjudicate")
        return console.page(request, "centre/queue.html", rows=await console.read(centre_views.queue),
                            incomplete=await console.read(centre_views.incomplete_searches))

    async def case(request: Request) -> Response:
        console.acting(request, "adjudicate")
        pick = _pick(request)
        found = await console.read(centre_views.case, request.path_params["enrollment_id"], pick)
        if found is None:
            raise HTTPException(404, "no such enrollment")
        return console.page(request, "centre/case.html", case=found, pick=pick)

    async def image(request: Request) -> Response:
        session = console.acting(request, "adjudicate")
        png = await console.read(centre_views.finger_png, request.path_params["enrollment_id"],
                                 request.path_params["position"])
        if png is None:
            raise HTTPException(404, "no stored image of this finger")
        return console.finish(Response(png, media_type="image/png"), session)

    async def pair(request: Request) -> Response:
        session = console.acting(request, "adjudicate")
        png = await console.read(centre_views.pair_png, request.path_params["enrollment_id"],
                                 request.path_params["position"], _pick(request))
        if png is None:
            raise HTTPException(404, "no candidate, or no stored image of this finger on one side")
        return console.finish(Response(png, media_type="image/png"), session)

    async def decide(request: Request) -> Response:
        session, form = await console.form(request)
        console.require(session, "adjudicate")
        enrollment_id = request.path_params["enrollment_id"]
        if form.get("decision") not in commands.DECISIONS:
            raise HTTPException(422, "choose same person or different people")
        try:
            result = await console.read(adjudicate, keys_of(session), enrollment_id, form["decision"],
                                        form.get("reason", "").strip())
        except Refusal as refusal:
            console.refused(session, "adjudicate", refusal)
        return console.page(request, "centre/decided.html", result=result, enrollment_id=enrollment_id)

    return [Route("/queue", queue), Route("/queue/{enrollment_id}", case),
            Route("/queue/{enrollment_id}/finger/{position:int}.png", image),
            Route("/queue/{enrollment_id}/pair/{position:int}.png", pair),
            Route("/queue/{enrollment_id}/decision", decide, methods=["POST"])]
