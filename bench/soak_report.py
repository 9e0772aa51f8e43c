#!/usr/bin/env python3
"""Summarises a soak series (the TSV from api/examples/soak.rs): prints it, the drift
between the first and the last five minutes after warm-up, and writes an SVG chart of
resident memory and read p99 over time. Standard library only.

    soak_report.py SERIES.tsv CHART.svg [WARMUP_MINUTES] [TITLE]
"""

import sys


def load(path):
    with open(path) as f:
        lines = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    header, rows = lines[0], lines[1:]
    return header, [dict(zip(header, map(float, row))) for row in rows]


def window_mean(rows, key):
    return sum(r[key] for r in rows) / len(rows) if rows else float("nan")


def chart(rows, path, title):
    width, height, pad = 760, 360, 50
    t = [r["t_s"] / 60 for r in rows]
    series = [("rss_mb", "resident memory (MB)", "#1d4ed8"), ("read_p99_ms", "read p99 (ms)", "#dc2626")]
    t_max = max(t) or 1
    plot_h = (height - 2 * pad) / 2 - 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{pad}" y="20" font-size="13">{title}</text>',
    ]
    for index, (key, label, color) in enumerate(series):
        values = [r[key] for r in rows]
        top = pad + index * (plot_h + 20)
        v_max = max(values) * 1.1 or 1
        points = " ".join(
            f"{pad + (x / t_max) * (width - 2 * pad):.1f},{top + plot_h - (v / v_max) * plot_h:.1f}"
            for x, v in zip(t, values)
        )
        parts += [
            f'<line x1="{pad}" y1="{top + plot_h}" x2="{width - pad}" y2="{top + plot_h}" stroke="#999"/>',
            f'<line x1="{pad}" y1="{top}" x2="{pad}" y2="{top + plot_h}" stroke="#999"/>',
            f'<text x="{pad + 5}" y="{top + 12}" fill="{color}">{label}</text>',
            f'<text x="{pad - 5}" y="{top + 4}" text-anchor="end">{v_max:.0f}</text>',
            f'<text x="{pad - 5}" y="{top + plot_h}" text-anchor="end">0</text>',
            f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{points}"/>',
        ]
    parts.append(f'<text x="{width - pad}" y="{height - 10}" text-anchor="end">minutes ({t_max:.0f})</text>')
    parts.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(parts) + "\n")


def main():
    series, svg = sys.argv[1], sys.argv[2]
    warmup = float(sys.argv[3]) if len(sys.argv) > 3 else 5
    title = sys.argv[4] if len(sys.argv) > 4 else "soak"
    header, rows = load(series)
    print("\n== series (every 10 s)")
    print("\t".join(header))
    for r in rows:
        print("\t".join(f"{r[h]:g}" for h in header))
    after = [r for r in rows if r["t_s"] > warmup * 60]
    first = [r for r in after if r["t_s"] <= after[0]["t_s"] + 300] if after else []
    last = [r for r in after if r["t_s"] > after[-1]["t_s"] - 300] if after else []
    print(f"\n== drift: first vs last five minutes after {warmup:g} min warm-up "
          f"({len(first)} and {len(last)} samples)")
    for key in ["rss_mb", "fds", "db_conns", "db_mb", "read_p50_ms", "read_p99_ms", "ws_p99_ms", "reads", "errors", "live_kb"]:
        if key not in header:
            continue
        a, b = window_mean(first, key), window_mean(last, key)
        ratio = f"{b / a:.2f}x" if a else "-"
        print(f"  {key:<14} {a:10.2f} -> {b:10.2f}   ({b - a:+.2f}, {ratio})")
        if key == "rss_mb" and first and last:
            # A login holds Argon2's 19 MiB for a moment, so a sample may catch a few of
            # them: the mean moves in steps of 19 MB, the floor shows what stays resident.
            a, b = min(r[key] for r in first), min(r[key] for r in last)
            print(f"  {'rss_floor_mb':<14} {a:10.2f} -> {b:10.2f}   ({b - a:+.2f}, {b / a:.2f}x)")
    print("  rows (last sample of each window):")
    for key in header[5:header.index("reads")]:
        a, b = (first[-1][key], last[-1][key]) if first else (0, 0)
        print(f"  {key:<24} {a:8.0f} -> {b:8.0f}   ({b - a:+.0f})")
    if rows:
        chart(rows, svg, title)
        print(f"\nchart: {svg}")


if __name__ == "__main__":
    main()
