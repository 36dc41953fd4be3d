#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The sluice authors
"""Compare the rows of `sluicectl query --json` with sluice-gen's views truth.

Usage: compare_views.py TRUTH.json QUERY.json [QUERY.json...] [--views v1,v2]
                        [--ignore-late] [--merged]

TRUTH.json is what `sluice-gen --format json|binary --truth` writes: an object
whose "views" holds the rows and "view_defs" the views. Each QUERY file ("-":
standard input) is a JSON array of rows of the same shape, {"view",
"window_start", "window_end", "group", "values", "late"} (one query per view
gives one file per view; a file may also hold several views' rows), or an
object with a "views" array (so a truth file can stand for a query).

Rows are matched by (view, window_start, window_end, group). Every truth row
of the compared views must be in the query and every query row in the truth.
Values (docs/sketches.md gives the receiver's error bounds):
  count, sum, min, max, last   exact (sum as a decimal; min, max and last are
                               doubles in the receiver: equal decimals or
                               equal doubles)
  avg                          within 1e-12 relative
  distinct(f)                  exact when the true value is <= 4096, else
                               within 2 % relative
  quantiles(f)                 each within alpha * |true| + 1e-9, alpha being
                               the row's "quantiles(f)_error" (null: no bound,
                               a mismatch)
  topk(f,k)                    Space-Saving: for each receiver item the truth
                               lists, count - error <= true <= count; every
                               truth item whose true count exceeds the truth's
                               k-th count + the row's largest receiver error
                               is present
  late                         exact
--views v1,v2   compare only these views (default: every view of the truth);
                query rows of other views are then ignored.
--ignore-late   do not compare "late"; a row that holds only late events
                (late > 0 and every value 0, null or empty) may be missing
                on the other side.
--merged        the query rows span several windows (a query step coarser than
                the window, or "all"): each is compared with the merge of the
                truth rows of its view and group that tile its span (windows
                starting at window_start + i * size). count, sum, min, max,
                last and late are then exact; avg is checked where the row has
                the sum of the same field (n = sum / avg per window); distinct
                between the largest and the sum of the windows' (2 % over 4096);
                topk counts within the bounds the windows' lists give; the rest
                (quantiles, topk presence) only when one window is merged.
                Truth rows outside every span of their view are out of the
                query's range and ignored.

Prints "compare_views: OK: N rows (views: ...)" and exits 0, or up to 10
mismatches and "compare_views: FAIL: ..." and exits 1 (2: usage error).
Standard library only.
"""

import argparse
import json
import re
import sys
from collections import defaultdict
from decimal import Decimal, InvalidOperation

MAX_SHOWN = 10
EXAMPLES = 3
AVG_REL = 1e-12
DISTINCT_EXACT_MAX = 4096
DISTINCT_REL = 0.02
QUANTILE_ABS = 1e-9
ROW_FIELDS = ("view", "window_start", "window_end", "group", "values", "late")
KEY_KINDS = (("count", "count"), ("sum(", "sum"), ("avg(", "avg"), ("min(", "min"),
             ("max(", "max"), ("last(", "last"), ("distinct(", "distinct"),
             ("quantiles(", "quantiles"), ("topk(", "topk"))


class Bad(Exception):
    """An input that cannot be compared at all (unreadable, wrong shape)."""


def load_json(path):
    try:
        if path == "-":
            return json.load(sys.stdin, parse_float=Decimal)
        with open(path) as f:
            return json.load(f, parse_float=Decimal)
    except (OSError, ValueError) as e:
        raise Bad(f"{path}: {e}")


def rows_of(doc, path):
    rows = doc.get("views") if isinstance(doc, dict) else doc
    if not isinstance(rows, list):
        raise Bad(f"{path}: neither a JSON array of rows nor an object with \"views\"")
    for i, r in enumerate(rows):
        if not isinstance(r, dict) or any(k not in r for k in ROW_FIELDS):
            raise Bad(f"{path}: row {i} lacks one of {', '.join(ROW_FIELDS)}: {r!r:.200}")
        if not isinstance(r["group"], dict) or not isinstance(r["values"], dict):
            raise Bad(f"{path}: row {i}: group and values must be objects")
    return rows


def dim_text(v):
    """A group value: a string (the dimension's text) by contract; anything else is
    shown as what it is, so that it matches no truth row."""
    return v if isinstance(v, str) else repr(v)


def row_key(r):
    return (r["view"], int(r["window_start"]), int(r["window_end"]),
            tuple(sorted((k, dim_text(v)) for k, v in r["group"].items())))


def show_key(k):
    group = ",".join(f"{d}={v}" for d, v in k[3])
    return f"{k[0]} [{k[1]}, {k[2]}) {{{group}}}"


def num(v):
    """A JSON number (int or Decimal) as a Decimal; None for anything else."""
    if isinstance(v, bool) or not isinstance(v, (int, Decimal)):
        return None
    return Decimal(v)


def kind_of(key, kinds):
    if key in kinds:
        return kinds[key]
    for prefix, kind in KEY_KINDS:
        if key == prefix or (prefix.endswith("(") and key.startswith(prefix)):
            return kind
    return None


def topk_k(key, agg):
    if agg is not None and "k" in agg:
        return int(agg["k"])
    m = re.search(r",\s*([0-9]+)\)$", key)
    return int(m.group(1)) if m else None


def only_late(r):
    """A row that holds only late events: late > 0 and no value but 0, null or empty."""
    if not isinstance(r["late"], int) or r["late"] <= 0:
        return False
    for k, v in r["values"].items():
        if k.endswith("_error"):
            continue
        if v not in (0, None, [], {}):
            return False
    return True


class Checker:
    def __init__(self, defs):
        self.errors = []
        self.unchecked = 0
        self.kinds = {}
        self.aggs = {}
        self.size = {}
        self.slide = {}
        for vd in defs:
            name = vd["view"]
            self.kinds[name] = {a["key"]: a["kind"] for a in vd["aggregates"]}
            self.aggs[name] = {a["key"]: a for a in vd["aggregates"]}
            self.size[name] = int(vd["window_size_ns"])
            self.slide[name] = int(vd["window_slide_ns"])

    def err(self, where, msg):
        self.errors.append(f"{where}: {msg}")

    # -- one truth row against one query row ----------------------------------------------

    def row(self, where, view, want, got, ignore_late):
        kinds = self.kinds.get(view, {})
        for key in want["values"]:
            if key.endswith("_error") and kind_of(key[:-6], kinds) in ("distinct", "quantiles"):
                continue
            if key not in got["values"]:
                self.err(where, f"no value {key!r} in the query row")
                continue
            self.value(f"{where} {key}", key, kind_of(key, kinds),
                       want["values"][key], got["values"][key], got["values"],
                       self.aggs.get(view, {}).get(key))
        for key in got["values"]:
            if key not in want["values"] and not key.endswith("_error"):
                self.err(where, f"unexpected value {key!r} in the query row")
        if not ignore_late and want["late"] != got["late"]:
            self.err(where, f"late is {got['late']}, truth {want['late']}")

    def value(self, where, key, kind, want, got, got_values, agg):
        if want is None or got is None:
            if not (want is None and got is None):
                self.err(where, f"{got!r:.80}, truth {want!r:.80}")
            return
        if kind in ("count", "sum", "min", "max", "last"):
            w, g = num(want), num(got)
            if g is None or w is None:
                self.err(where, f"{got!r:.80} is not a number (truth {want})")
            elif g != w and (kind in ("count", "sum") or float(g) != float(w)):
                self.err(where, f"{got}, truth {want}")
        elif kind == "avg":
            w, g = num(want), num(got)
            if g is None or w is None or abs(float(g) - float(w)) > AVG_REL * abs(float(w)):
                self.err(where, f"{got}, truth {want} (allowed: {AVG_REL:g} relative)")
        elif kind == "distinct":
            self.distinct(where, got, int(want), int(want))
        elif kind == "quantiles":
            self.quantiles(where, key, want, got, got_values)
        elif kind == "topk":
            self.topk(where, key, want, got, agg)
        else:
            self.err(where, f"unknown aggregate (kind {kind!r})")

    def distinct(self, where, got, lo, hi):
        """The true value is known to lie in [lo, hi] (lo == hi: it is known)."""
        g = num(got)
        if g is None:
            self.err(where, f"{got!r:.80} is not a number")
            return
        tol = 0 if hi <= DISTINCT_EXACT_MAX else DISTINCT_REL
        if not Decimal(lo) * Decimal(1 - tol) <= g <= Decimal(hi) * Decimal(1 + tol):
            truth = f"{lo}" if lo == hi else f"in [{lo}, {hi}]"
            self.err(where, f"{got}, truth {truth}"
                     f"{' (allowed: 2 % relative above 4096)' if tol else ' (exact up to 4096)'}")

    def quantiles(self, where, key, want, got, got_values):
        if not isinstance(got, dict) or set(got) != set(want):
            self.err(where, f"quantiles {sorted(got) if isinstance(got, dict) else got!r:.80},"
                     f" truth {sorted(want)}")
            return
        alpha = got_values.get(key + "_error")
        if num(alpha) is None:
            self.err(where, f"{key}_error is {alpha!r}: the receiver states no bound")
            return
        for q in want:
            w, g = num(want[q]), num(got[q])
            if g is None or abs(g - w) > num(alpha) * abs(w) + Decimal(QUANTILE_ABS):
                self.err(where, f"q {q}: {got[q]}, truth {w} (alpha {alpha})")

    def topk_items(self, where, got, k):
        """The receiver's items as {item: (count, error)}; None when malformed."""
        if not isinstance(got, list) or (k is not None and len(got) > k):
            self.err(where, f"not a list of at most k={k} items: {got!r:.80}")
            return None
        items = {}
        for it in got:
            ok = isinstance(it, dict) and isinstance(it.get("item"), str)
            c, e = (num(it.get("count")), num(it.get("error"))) if ok else (None, None)
            if c is None or e is None or not 0 <= e <= c or it["item"] in items:
                self.err(where, f"bad or repeated item {it!r:.80}")
                return None
            items[it["item"]] = (c, e)
        return items

    def topk(self, where, key, want, got, agg):
        k = topk_k(key, agg)
        items = self.topk_items(where, got, k)
        if items is None:
            return
        true = {it["item"]: int(it["count"]) for it in want}
        # Items the truth does not list have at most its k-th count (0: it lists them all).
        full = k is not None and len(want) >= k
        kth = min(true.values()) if full and true else 0
        max_err = max((e for _, e in items.values()), default=0)
        for item, (c, e) in items.items():
            if item in true:
                if not c - e <= true[item] <= c:
                    self.err(where, f"{item}: count {c} error {e}, truth {true[item]}")
            elif c - e > kth:
                self.err(where, f"{item}: count {c} error {e}, but its true count is at most"
                         f" {kth}")
        # Presence. Space-Saving (docs/sketches.md) over-counts a reported item by its
        # error, at most the summary's floor; the row's largest receiver error is the
        # guarantee threshold it documents. Items tied at the k-th position may
        # legitimately differ between the exact top-k and the summary's (ties, and
        # over-counts up to that error), so presence is required only for truth items
        # whose count is strictly greater than the truth's k-th count + the largest
        # receiver error: such an item outranks, by its estimate, every item whose
        # true count is at most the k-th.
        for item, n in true.items():
            if n > kth + max_err and item not in items:
                self.err(where, f"{item} (true count {n}) is missing; above the k-th count"
                         f" {kth} + error {max_err}")

    # -- --merged: several truth rows against one query row -------------------------------

    def merged(self, where, view, parts, got, ignore_late):
        """Compare @p got with the merge of the truth rows @p parts (sorted by start)."""
        if len(parts) == 1:
            self.row(where, view, parts[0], got, ignore_late)
            return
        kinds = self.kinds.get(view, {})
        values = [p["values"] for p in parts]
        for key in parts[0]["values"]:
            kind = kind_of(key, kinds)
            if key.endswith("_error") and kind_of(key[:-6], kinds) in ("distinct", "quantiles"):
                continue
            w = f"{where} {key}"
            if key not in got["values"]:
                self.err(where, f"no value {key!r} in the query row")
                continue
            g = got["values"][key]
            vals = [v.get(key) for v in values]
            present = [v for v in vals if v is not None]
            if kind == "count":
                self.value(w, key, kind, sum(int(v) for v in vals), g, got["values"], None)
            elif kind == "sum":
                self.value(w, key, kind, sum(num(v) for v in present) if present else None, g,
                           got["values"], None)
            elif kind in ("min", "max"):
                pick = min if kind == "min" else max
                self.value(w, key, kind, pick(present, key=num) if present else None, g,
                           got["values"], None)
            elif kind == "last":
                # The greatest time is in the latest window that has values.
                self.value(w, key, kind, present[-1] if present else None, g, got["values"],
                           None)
            elif kind == "avg":
                self.merged_avg(w, key, kinds, values, g, got["values"])
            elif kind == "distinct":
                if g is None:
                    self.err(w, "null")
                else:
                    self.distinct(w, g, max(int(v) for v in vals), sum(int(v) for v in vals))
            elif kind == "topk":
                self.merged_topk(w, key, vals, g, self.aggs.get(view, {}).get(key))
            elif kind == "quantiles":
                if (g is None) != (not present):
                    self.err(w, f"{g!r:.80}, truth {'none' if not present else 'values'}")
                self.unchecked += 1
            else:
                self.err(w, f"unknown aggregate (kind {kind!r})")
        for key in got["values"]:
            if key not in parts[0]["values"] and not key.endswith("_error"):
                self.err(where, f"unexpected value {key!r} in the query row")
        late = sum(int(p["late"]) for p in parts)
        if not ignore_late and got["late"] != late:
            self.err(where, f"late is {got['late']}, truth {late}")

    def merged_avg(self, where, key, kinds, values, got, got_values):
        field = key[len("avg("):-1]
        sum_key = next((k for k, kd in kinds.items() if kd == "sum" and k[4:-1] == field), None)
        total, n = Decimal(0), 0
        for v in values:
            a = num(v.get(key))
            if a is None:
                continue
            s = num(v.get(sum_key)) if sum_key else None
            if s is None or a == 0:
                self.unchecked += 1
                return
            total += s
            n += int((s / a).to_integral_value())
        want = total / n if n else None
        if want is None:
            self.value(where, key, "avg", None, got, got_values, None)
        elif num(got) is None or abs(float(got) - float(want)) > AVG_REL * abs(float(want)):
            self.err(where, f"{got}, truth {want:.17g} (allowed: {AVG_REL:g} relative)")

    def merged_topk(self, where, key, vals, got, agg):
        k = topk_k(key, agg)
        items = self.topk_items(where, got, k)
        if items is None:
            return
        lists = [{it["item"]: int(it["count"]) for it in v} for v in vals]
        # Per window, an unlisted item has at most the k-th count (0 when all are listed).
        kths = [min(lst.values()) if k is not None and len(lst) >= k and lst else 0
                for lst in lists]
        for item, (c, e) in items.items():
            lo = sum(lst.get(item, 0) for lst in lists)
            hi = sum(lst.get(item, kth) for lst, kth in zip(lists, kths))
            if c < lo or c - e > hi:
                self.err(where, f"{item}: count {c} error {e}, truth in [{lo}, {hi}]")
        self.unchecked += 1   # presence needs the merged true counts


def select(rows, views, where):
    out = {}
    dupes = []
    for r in rows:
        if r["view"] not in views:
            continue
        k = row_key(r)
        if k in out:
            dupes.append(k)
        out[k] = r
    return out, [f"{where}: row {show_key(k)} appears more than once" for k in dupes[:EXAMPLES]]


def examples(keys):
    shown = "; ".join(show_key(k) for k in keys[:EXAMPLES])
    return f"{shown}{'; ...' if len(keys) > EXAMPLES else ''}"


def compare_plain(chk, truth, query, ignore_late):
    missing = sorted(k for k in truth if k not in query
                     and not (ignore_late and only_late(truth[k])))
    extra = sorted(k for k in query if k not in truth
                   and not (ignore_late and only_late(query[k])))
    if missing:
        chk.errors.append(f"{len(missing)} truth row(s) missing from the query, e.g. "
                          f"{examples(missing)}")
    if extra:
        chk.errors.append(f"{len(extra)} query row(s) not in the truth, e.g. {examples(extra)}")
    n = 0
    for k in sorted(set(truth) & set(query)):
        chk.row(show_key(k), k[0], truth[k], query[k], ignore_late)
        n += 1
    return n


def compare_merged(chk, truth, query, ignore_late):
    spans = defaultdict(set)            # view -> {(start, end)} of the query rows
    for k in query:
        spans[k[0]].add((k[1], k[2]))
    # Without it, a view the query forgot would look entirely out of range.
    for view in sorted({k[0] for k in truth} - set(spans)):
        chk.errors.append(f"view {view}: the truth has rows, the query none")
    parts = defaultdict(list)           # query key -> the truth rows tiling its span
    missing, outside = [], 0
    for k, r in truth.items():
        view, start, end, group = k
        size = chk.size[view]
        homes = [(s, e) for s, e in spans.get(view, ()) if s <= start and end <= e]
        if not homes:
            outside += 1
            continue
        tiles = [(s, e) for s, e in homes if (start - s) % size == 0]
        if not tiles:
            continue                    # a sliding window overlapping the tiling ones
        qk = (view, tiles[0][0], tiles[0][1], group)
        if len(tiles) > 1:
            chk.err(show_key(k), "lies in several query spans of its view")
        if qk in query:
            parts[qk].append(r)
        elif not (ignore_late and only_late(r)):
            missing.append(k)
    if missing:
        missing.sort()
        chk.errors.append(f"{len(missing)} truth row(s) in no query row of their group, e.g. "
                          f"{examples(missing)}")
    n = 0
    extra = []
    for qk in sorted(query):
        got = query[qk]
        view, start, end = qk[0], qk[1], qk[2]
        size, slide = chk.size[view], chk.slide[view]
        if start % slide or (end - start) % size or end <= start:
            chk.err(show_key(qk), f"span is not a whole number of windows of {size} ns"
                    f" starting on a multiple of {slide} ns")
            continue
        ps = sorted(parts.get(qk, []), key=lambda r: int(r["window_start"]))
        if not ps:
            if not (ignore_late and only_late(got)):
                extra.append(qk)
            continue
        chk.merged(f"{show_key(qk)} ({len(ps)} windows)", view, ps, got, ignore_late)
        n += len(ps)
    if extra:
        chk.errors.append(f"{len(extra)} query row(s) with no truth row in their span, e.g. "
                          f"{examples(extra)}")
    return n, outside


def main():
    paras = __doc__.split("\n\n")   # the docstring without its "Usage:" paragraph
    ap = argparse.ArgumentParser(description="\n\n".join(paras[:1] + paras[2:]),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("truth", help="the truth file of sluice-gen --format json|binary --truth")
    ap.add_argument("queries", nargs="+", metavar="QUERY",
                    help="JSON array(s) of query rows ('-': standard input)")
    ap.add_argument("--views", help="comma-separated views to compare (default: all)")
    ap.add_argument("--ignore-late", action="store_true",
                    help="do not compare late; rows of only late events may be missing")
    ap.add_argument("--merged", action="store_true",
                    help="query rows span several windows: compare with the merged truth")
    args = ap.parse_args()

    try:
        tdoc = load_json(args.truth)
        if not isinstance(tdoc, dict) or "view_defs" not in tdoc:
            raise Bad(f"{args.truth}: not a sluice-gen views truth (no \"view_defs\")")
        defs = tdoc["view_defs"]
        names = [vd["view"] for vd in defs]
        views = names if args.views is None else [v for v in args.views.split(",") if v]
        unknown = [v for v in views if v not in names]
        if unknown or not views:
            ap.error(f"--views: {', '.join(unknown) or 'empty'}: not among the truth's views"
                     f" ({', '.join(names)})")
        qrows = []
        for path in args.queries:
            qrows += rows_of(load_json(path), path)
        chk = Checker(defs)
        truth, terr = select(rows_of(tdoc, args.truth), set(views), args.truth)
        query, qerr = select(qrows, set(views), "query")
        if args.views is None:
            others = sorted({r["view"] for r in qrows} - set(names))
            if others:
                qerr.append(f"query rows of views the truth does not have: {', '.join(others)}")
        chk.errors += terr + qerr
        outside = 0
        if args.merged:
            n, outside = compare_merged(chk, truth, query, args.ignore_late)
        else:
            n = compare_plain(chk, truth, query, args.ignore_late)
    except Bad as e:
        print(f"compare_views: FAIL: {e}", file=sys.stderr)
        return 1
    except (KeyError, TypeError, ValueError, InvalidOperation) as e:
        print(f"compare_views: FAIL: malformed input: {type(e).__name__}: {e}", file=sys.stderr)
        return 1

    notes = ""
    if args.merged:
        notes = f", {len(query)} merged query rows"
        if chk.unchecked:
            notes += f", {chk.unchecked} values not derivable from the truth's rows"
        if outside:
            notes += f", {outside} truth rows outside the query's spans"
    if chk.errors:
        for e in chk.errors[:MAX_SHOWN]:
            print(f"compare_views: {e}", file=sys.stderr)
        more = len(chk.errors) - MAX_SHOWN
        hidden = f" ({more} not shown)" if more > 0 else ""
        print(f"compare_views: FAIL: {len(chk.errors)} mismatch(es){hidden} in {n} matched rows"
              f" (views: {', '.join(views)}){notes}", file=sys.stderr)
        return 1
    print(f"compare_views: OK: {n} rows (views: {', '.join(views)}){notes}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
