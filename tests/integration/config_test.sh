#!/usr/bin/env bash
# sluicectl config: check, show and default, on the files in tests/data/config/.
# Each bad-*.yaml starts with "# expect: LINE: MESSAGE": `config check` must exit
# 1 and print FILE:LINE:COL: ... MESSAGE ... on stderr. Each good-*.yaml must
# pass, and its canonical form (`config show`) must pass and show the same.
set -u
. "$(dirname "$0")/lib.sh"

D=$SL_SRC/tests/data/config
n=0
for f in "$D"/bad-*.yaml; do
	want=$(sed -n '1s/^# expect: //p' "$f")
	line=${want%%: *}
	msg=${want#*: }
	[ -n "$want" ] && [ "$line" -gt 0 ] || fail "$f: no '# expect: LINE: MESSAGE' header"
	"$SLUICECTL" config check "$f" >"$T/out" 2>"$T/err"
	rc=$?
	[ "$rc" -eq 1 ] || fail "$f: exit $rc, want 1"
	[ ! -s "$T/out" ] || fail "$f: unexpected stdout: $(cat "$T/out")"
	grep -qF "$f:$line:" "$T/err" || fail "$f: want line $line, got: $(cat "$T/err")"
	grep -qF -- "$msg" "$T/err" || fail "$f: want '$msg', got: $(cat "$T/err")"
	n=$((n + 1))
done
[ "$n" -ge 15 ] || fail "only $n bad configs"

for f in "$D"/good-*.yaml; do
	"$SLUICECTL" config check "$f" >"$T/out" 2>"$T/err" || fail "$f: $(cat "$T/err")"
	grep -qE "^$f: ok \([0-9]+ views?, [0-9]+ inputs?\)$" "$T/out" || fail "$f: $(cat "$T/out")"
	"$SLUICECTL" config show "$f" >"$T/show.yaml" || fail "$f: show"
	"$SLUICECTL" config show "$T/show.yaml" >"$T/show2.yaml" || fail "$f: show of show"
	cmp -s "$T/show.yaml" "$T/show2.yaml" || fail "$f: canonical form is not stable"
done
grep -q "good-everything.yaml: ok (2 views, 2 inputs)" \
	<("$SLUICECTL" config check "$D/good-everything.yaml") || fail "view/input counts"

# The built-in default: printable, valid, and what `config show` shows.
"$SLUICECTL" config default >"$T/default.yaml" || fail "config default"
out=$("$SLUICECTL" config check - <"$T/default.yaml") || fail "default does not check"
[ "$out" = "<stdin>: ok (3 views, 3 inputs)" ] || fail "default check: $out"
"$SLUICECTL" config show >"$T/a.yaml" || fail "config show"
"$SLUICECTL" config show "$T/default.yaml" >"$T/b.yaml" || fail "config show default.yaml"
cmp -s "$T/a.yaml" "$T/b.yaml" || fail "config show differs from config show of the default"
for v in footfall sales popular; do
	grep -q "^  - name: $v\$" "$T/a.yaml" || fail "default lacks view $v"
done

# Several files: every one is reported, the exit status is 1 if any fails.
"$SLUICECTL" config check "$D/good-minimal.yaml" "$D/bad-slide.yaml" >"$T/out" 2>"$T/err"
[ $? -eq 1 ] && grep -q "good-minimal.yaml: ok" "$T/out" && grep -q "bad-slide.yaml:5:" "$T/err" ||
	fail "two files"
# --json
out=$("$SLUICECTL" --json config check "$D/bad-slide.yaml")
[ $? -eq 1 ] || fail "--json exit status"
python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert r[0]["ok"] is False and r[0]["line"] == 5, r' \
	"$out" || fail "--json output: $out"
# Errors of use: exit 2; an unreadable file: exit 1 with its name.
"$SLUICECTL" config 2>/dev/null; [ $? -eq 2 ] || fail "no subcommand"
"$SLUICECTL" config check 2>/dev/null; [ $? -eq 2 ] || fail "check without FILE"
"$SLUICECTL" config frobnicate 2>/dev/null; [ $? -eq 2 ] || fail "unknown subcommand"
"$SLUICECTL" config show a b 2>/dev/null; [ $? -eq 2 ] || fail "show with two files"
"$SLUICECTL" config check "$T/nope.yaml" 2>"$T/err"; [ $? -eq 1 ] || fail "missing file"
grep -q "nope.yaml: cannot open: No such file or directory" "$T/err" || fail "$(cat "$T/err")"
"$SLUICECTL" config --help | grep -q "config check FILE" || fail "--help"
echo "config: ok ($n bad configs)"
