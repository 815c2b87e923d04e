"""Render a Grafana dashboard JSON to a PNG from a real Prometheus, without Grafana.

No Grafana server is installable here (no Debian package, nothing on PyPI or
npm that runs one), so this draws each panel of the same JSON file Grafana
imports: every target's PromQL goes to Prometheus' HTTP API (`query_range`
for time series, `query` at the end time for stat panels), legends come from
`legendFormat`, colours of stat panels from the panel's thresholds, units
from its `unit`. `$__rate_interval` becomes `--rate-interval`. What is drawn is
what Prometheus answered; a panel whose query returns nothing says "No data".

    python infra/grafana/render.py infra/grafana/papilla-pipeline.json out.png \
        --prometheus http://127.0.0.1:9090 --start UNIX --end UNIX --step 5
"""
from __future__ import annotations

import argparse
import json
import re
import time
import urllib.parse
import urllib.request
from datetime import datetime, timezone

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

COLOURS = {"green": "#56a64b", "red": "#e02f44", "orange": "#ff9830", "yellow": "#f2cc0c"}
PALETTE = ["#7eb26d", "#eab839", "#6ed0e0", "#ef843c", "#e24d42", "#1f78c1", "#ba43a9", "#705da0", "#508642"]
BG, PANEL_BG, TEXT = "#111217", "#181b1f", "#ccccdc"


def api(base: str, path: str, **params) -> list[dict]:
    url = f"{base}/api/v1/{path}?{urllib.parse.urlencode(params)}"
    body = json.load(urllib.request.urlopen(url, timeout=30))
    if body["status"] != "success":
        raise RuntimeError(f"{url}: {body}")
    return body["data"]["result"]


def legend(fmt: str, labels: dict) -> str:
    text = re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m[1], ""), fmt or "")
    return text.strip() or ",".join(f"{k}={v}" for k, v in labels.items() if k != "__name__") or "value"


def fmt_value(value: float, unit: str) -> str:
    if value != value:  # NaN
        return "NaN"
    if unit == "s":
        return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"
    if unit == "bytes":
        return f"{value / 2**20:.0f} MiB"
    if unit == "percentunit":
        return f"{value * 100:.1f} %"
    if unit == "ops":
        return f"{value:.2f}/s"
    return f"{value:.0f}" if abs(value - round(value)) < 1e-9 else f"{value:.2f}"


def stat_colour(panel: dict, value: float) -> str:
    steps = panel["fieldConfig"]["defaults"].get("thresholds", {}).get("steps", [])
    colour = "#3d71d9"
    for step in steps:
        if step["value"] is None or value >= step["value"]:
            colour = COLOURS.get(step["color"], step["color"])
    return colour


def draw_stat(ax, panel: dict, base: str, end: float, rate: str) -> None:
    values = []
    for t in panel["targets"]:
        for r in api(base, "query", query=t["expr"].replace("$__rate_interval", rate), time=end):
            values.append((legend(t["legendFormat"], r["metric"]), float(r["value"][1])))
    ax.set_xticks([]), ax.set_yticks([])
    if not values:
        ax.text(0.5, 0.45, "No data", ha="center", va="center", color="#8e8e8e", fontsize=13)
        return
    n = len(values)
    for i, (name, value) in enumerate(values):
        x0, x1 = i / n, (i + 1) / n
        ax.axvspan(x0 + 0.01, x1 - 0.01, ymin=0.05, ymax=0.8, color=stat_colour(panel, value), alpha=0.9)
        ax.text((x0 + x1) / 2, 0.48, fmt_value(value, panel["fieldConfig"]["defaults"]["unit"]), ha="center",
                va="center", color="white", fontsize=16 if n < 4 else 12, weight="bold", transform=ax.transAxes)
        if n > 1 or name not in ("value",):
            ax.text((x0 + x1) / 2, 0.15, name, ha="center", va="center", color="white", fontsize=7,
                    transform=ax.transAxes)


def draw_series(ax, panel: dict, base: str, start: float, end: float, step: float, rate: str) -> None:
    unit = panel["fieldConfig"]["defaults"]["unit"]
    drawn = 0
    for t in panel["targets"]:
        for r in api(base, "query_range", query=t["expr"].replace("$__rate_interval", rate),
                     start=start, end=end, step=step):
            xs = [datetime.fromtimestamp(float(ts), tz=timezone.utc) for ts, _ in r["values"]]
            ys = [float(v) for _, v in r["values"]]
            ys = [y * 100 if unit == "percentunit" else y / 2**20 if unit == "bytes" else y for y in ys]
            ax.plot(xs, ys, lw=1.4, color=PALETTE[drawn % len(PALETTE)], label=legend(t["legendFormat"], r["metric"]))
            drawn += 1
    ax.set_xlim(datetime.fromtimestamp(start, tz=timezone.utc), datetime.fromtimestamp(end, tz=timezone.utc))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M"))
    ax.tick_params(colors=TEXT, labelsize=6)
    ax.grid(color="#2c3235", lw=0.5)
    ax.set_ylabel({"s": "seconds", "bytes": "MiB", "percentunit": "%", "ops": "per second"}.get(unit, ""),
                  color=TEXT, fontsize=6)
    if drawn:
        ax.legend(fontsize=5.5, loc="upper left", frameon=False, labelcolor=TEXT, ncol=2 if drawn > 4 else 1)
    else:
        ax.text(0.5, 0.5, "No data", ha="center", va="center", color="#8e8e8e", fontsize=13, transform=ax.transAxes)


def render(board: dict, out: str, base: str, start: float, end: float, step: float, rate: str) -> None:
    rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in board["panels"])
    width_in, row_in, head_in = 16.0, 0.42, 0.6
    height_in = rows * row_in + head_in
    fig = plt.figure(figsize=(width_in, height_in), facecolor=BG)
    top = head_in / height_in
    span = f"{datetime.fromtimestamp(start, tz=timezone.utc):%Y-%m-%d %H:%M}–{datetime.fromtimestamp(end, tz=timezone.utc):%H:%M} UTC"
    fig.text(0.01, 1 - top / 2.4, board["title"], color="white", fontsize=14, weight="bold", va="center")
    fig.text(0.99, 1 - top / 2.4, f"{span} · drawn by infra/grafana/render.py from Prometheus query results "
             f"(not a Grafana screenshot)", color="#8e8e8e", fontsize=7, ha="right", va="center")
    gap_x, gap_y = 0.06 / width_in, 0.06 / height_in
    for p in board["panels"]:
        g = p["gridPos"]
        left, width = g["x"] / 24 + gap_x, g["w"] / 24 - 2 * gap_x
        height = (1 - top) * g["h"] / rows - 2 * gap_y
        bottom = (1 - top) * (1 - (g["y"] + g["h"]) / rows) + gap_y
        card = fig.add_axes([left, bottom, width, height], facecolor=PANEL_BG)
        card.set_xticks([]), card.set_yticks([])
        for spine in card.spines.values():
            spine.set_color("#2c3235")
        card.text(0.01, 1 - 0.12 / (height * height_in), p["title"], color=TEXT, fontsize=8, va="top",
                  transform=card.transAxes)
        # the plot sits inside the card, leaving room for the title and the tick labels
        m_left, m_bottom, m_top = 0.5 / width_in, 0.28 / height_in, 0.3 / height_in
        if p["type"] == "stat":
            m_left, m_bottom = 0.08 / width_in, 0.06 / height_in
        ax = fig.add_axes([left + m_left, bottom + m_bottom, width - m_left - 0.1 / width_in,
                           height - m_bottom - m_top], facecolor=PANEL_BG)
        for spine in ax.spines.values():
            spine.set_visible(p["type"] != "stat")
            spine.set_color("#2c3235")
        if p["type"] == "stat":
            draw_stat(ax, p, base, end, rate)
        else:
            draw_series(ax, p, base, start, end, step, rate)
    fig.savefig(out, dpi=110, facecolor=BG)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dashboard")
    parser.add_argument("out")
    parser.add_argument("--prometheus", default="http://127.0.0.1:9090")
    parser.add_argument("--end", type=float, default=None, help="Unix time (default now)")
    parser.add_argument("--start", type=float, default=None, help="Unix time (default end - 1 h)")
    parser.add_argument("--step", type=float, default=15)
    parser.add_argument("--rate-interval", default="1m")
    args = parser.parse_args(argv)
    end = args.end or time.time()
    start = args.start or end - 3600
    with open(args.dashboard) as fh:
        board = json.load(fh)
    render(board, args.out, args.prometheus.rstrip("/"), start, end, args.step, args.rate_interval)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
