#!/usr/bin/python3
"""Merges xgrad_bench and torch_bench JSON files into one table (stdout) and one JSON file
with a record per case: case, xgrad_s, baseline_s, torch_s (or null), ratio_vs_baseline
(= xgrad_s / baseline_s) and ratio_vs_torch (= xgrad_s / torch_s, or null). Then checks
the issue's targets on those numbers and prints each as met or missed. Standard library
only, so it runs where torch is missing.
"""
import argparse
import json
import re
import sys


def load(paths):
    xgrad, torch = {}, {}
    for path in paths:
        with open(path) as f:
            for r in json.load(f):
                if "xgrad_s" in r:
                    xgrad[r["case"]] = r
                else:
                    torch[r["case"]] = r["torch_s"]
    return xgrad, torch


def fmt(seconds):
    if seconds is None:
        return "-"
    if seconds >= 1:
        return f"{seconds:.3f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3f} ms"
    return f"{seconds * 1e6:.2f} us"


def merge(xgrad, torch):
    records = []
    for case, r in xgrad.items():
        t = torch.get(case)
        records.append({
            "case": case,
            "xgrad_s": r["xgrad_s"],
            "baseline_s": r["baseline_s"],
            "torch_s": t,
            "ratio_vs_baseline": r["xgrad_s"] / r["baseline_s"],
            "ratio_vs_torch": r["xgrad_s"] / t if t else None,
            "group": r.get("group", ""),
            "tokens": r.get("tokens", 0),
            "note": r.get("note", ""),
        })
    return records


def print_table(records):
    print(f"{'case':<46} {'xgrad':>11} {'baseline':>11} {'torch':>11} {'x/base':>7} {'torch/x':>8}  note")
    for r in records:
        speedup = f"{1 / r['ratio_vs_torch']:8.2f}" if r["ratio_vs_torch"] else f"{'-':>8}"
        note = r["note"]
        if r["group"] == "transformer":  # baseline: the products' time at sgemm's peak
            note = f"{r['tokens'] / r['xgrad_s']:.0f} tok/s"
            note += f" (torch {r['tokens'] / r['torch_s']:.0f})" if r["torch_s"] else ""
            note += "; " + r["note"]
        elif r["tokens"]:
            note = f"{r['tokens'] / r['xgrad_s']:.0f} tok/s (baseline {r['tokens'] / r['baseline_s']:.0f}"
            note += f", torch {r['tokens'] / r['torch_s']:.0f})" if r["torch_s"] else ")"
        print(f"{r['case']:<46} {fmt(r['xgrad_s']):>11} {fmt(r['baseline_s']):>11} {fmt(r['torch_s']):>11} "
              f"{r['ratio_vs_baseline']:7.2f} {speedup}  {note}")


def parse(case):
    """{'kernel':..., 'V':..., 'D':..., 'T':..., 'dist':..., 't':...} for embedding cases."""
    m = re.match(r"(\w+) V=(\d+) D=(\d+) T=(\d+) (\w+) t=(\d+)$", case)
    if not m:
        return None
    k, v, d, t, dist, th = m.groups()
    return {"kernel": k, "V": int(v), "D": int(d), "T": int(t), "dist": dist, "t": int(th)}


def check_targets(records):
    by_case = {r["case"]: r for r in records}
    results = []

    def target(ok, text):
        results.append((ok, text))

    for threads in sorted({p["t"] for p in map(parse, by_case) if p}):
        tag = f"[{threads} thread{'s' if threads > 1 else ''}]"
        emb = [(parse(c), r) for c, r in by_case.items() if parse(c) and parse(c)["t"] == threads]
        worst = {}
        for p, r in emb:
            if p["kernel"] in ("fwd", "bwd", "full") and p["T"] > 1:
                if r["ratio_vs_baseline"] > worst.get(p["kernel"], (0, ""))[0]:
                    worst[p["kernel"]] = (r["ratio_vs_baseline"], r["case"])
        for kernel, (ratio, case) in sorted(worst.items()):
            target(ratio <= 1.25, f"{tag} {kernel} within 1.25x of baseline everywhere: worst {ratio:.2f} ({case})")
        for tokens, need in ((8192, 2.5), (512, 5.0)):
            speedups = [(1 / r["ratio_vs_torch"], r["case"]) for p, r in emb
                        if p["kernel"] == "full" and p["T"] == tokens and r["ratio_vs_torch"]]
            if speedups:
                s, case = min(speedups)
                target(s >= need, f"{tag} full step >= {need}x faster than torch at T={tokens}: least {s:.2f}x ({case})")
        growth = []
        for p, r in emb:
            if p["kernel"] in ("full", "dense") and p["V"] == 1000000:
                small = by_case.get(r["case"].replace("V=1000000", "V=50000"))
                if small:
                    growth.append((p["kernel"], r["xgrad_s"] / small["xgrad_s"],
                                   r["baseline_s"] / small["baseline_s"], r["case"]))
        sparse = [g for g in growth if g[0] == "full"]
        if sparse:
            g = max(sparse, key=lambda x: x[1])
            target(g[1] <= 2.5, f"{tag} sparse step time V=1M / V=50k <= 2.5: worst {g[1]:.2f} "
                   f"(baseline {g[2]:.2f}) ({g[3]})")
        dense = [g for g in growth if g[0] == "dense"]
        if dense:
            lo, hi = min(g[1] for g in dense), max(g[1] for g in dense)
            print(f"{tag} dense step time V=1M / V=50k: {lo:.1f}x to {hi:.1f}x (grows with V, as expected)")
        lm = by_case.get(f"lm bigram V=5000 D=64 T=4096 t={threads}")
        if lm:
            target(1 / lm["ratio_vs_baseline"] >= 0.85,
                   f"{tag} bigram LM tokens/s >= 0.85x baseline: {1 / lm['ratio_vs_baseline']:.2f}x")
            if lm["ratio_vs_torch"]:
                target(1 / lm["ratio_vs_torch"] >= 2.0,
                       f"{tag} bigram LM tokens/s >= 2x torch: {1 / lm['ratio_vs_torch']:.2f}x")
        one = by_case.get(f"full V=50000 D=64 T=1 uniform t={threads}")
        if one:
            torch_text = f", torch {fmt(one['torch_s'])}" if one["torch_s"] else ""
            print(f"{tag} fixed cost of a sparse step on one token: xgrad {fmt(one['xgrad_s'])}{torch_text}")
    for r in records:
        if r["group"] == "transformer" and r["ratio_vs_torch"]:
            threads = r["case"].rsplit("t=", 1)[1]
            tag = f"[{threads} thread{'s' if threads != '1' else ''}]"
            model = r["case"].split(" t=")[0]
            target(1 / r["ratio_vs_torch"] >= 1.75,
                   f"{tag} {model}: step >= 1.75x faster than torch: {1 / r['ratio_vs_torch']:.2f}x")
    for r in records:
        if r["group"] == "transformer":  # x/base: the step over its products' time at sgemm's peak
            threads = r["case"].rsplit("t=", 1)[1]
            tag = f"[{threads} thread{'s' if threads != '1' else ''}]"
            model = r["case"].split(" t=")[0]
            target(1 / r["ratio_vs_baseline"] >= 0.85,
                   f"{tag} {model}: model FLOP/s >= 85% of the sgemm peak: {100 / r['ratio_vs_baseline']:.0f}%")
    for ok, text in results:
        print(("met     " if ok else "MISSED  ") + text)
    return all(ok for ok, _ in results)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("inputs", nargs="+", help="JSON files from xgrad_bench and torch_bench")
    parser.add_argument("--json", help="write the merged records here")
    args = parser.parse_args()
    xgrad, torch = load(args.inputs)
    records = merge(xgrad, torch)
    if not torch:
        print("torch: skipped: torch not installed (or not run); torch columns are empty")
    print_table(records)
    print()
    check_targets(records)
    if args.json:
        fields = ("case", "xgrad_s", "baseline_s", "torch_s", "ratio_vs_baseline", "ratio_vs_torch")
        with open(args.json, "w") as out:
            json.dump([{k: r[k] for k in fields} for r in records], out, indent=1)
        print(f"\nwrote {len(records)} records to {args.json}")


if __name__ == "__main__":
    sys.exit(main())
