"""Browser consoles for the people who run Papilla (issue 21): `papilla console station` at a branch and
`papilla console centre` at the processing centre.

Server-rendered pages (Starlette + Jinja2, htmx vendored in `static/` for partial updates, no JavaScript build
step) over the domain code: the station's workflow (`services/capture/station.py`, `workflow.py`), the
lifecycle's adjudication and acts of destruction (`services/lifecycle/`), the principals' signatures and role
table (`shared/principals.py`, `shared/legal/roles.py`) and the audit trail. The consoles add no rule of their
own: every action is checked on the server against the role table, and the domain code checks it again.

web.py       sessions, CSRF, role guard, rendering, security headers (both consoles)
i18n.py      en / ru / kk label catalogues
station_app  the branch operator's pages; station_capture: the capture run behind them
centre_app   the adjudicator's, head of unit's and auditor's pages; centre_views: what they show
drawing.py   finger images with minutiae drawn from the stored templates
"""
