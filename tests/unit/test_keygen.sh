#!/bin/sh
# `hactl keygen` (TAP output): a new key has 64 bytes and mode 0400; an
# existing key is refused (exit 2, file unchanged) unless --force, which
# replaces it with different bytes; usage errors exit 1; a directory we
# cannot write into exits 3 and leaves no temporary file behind.
#
# Run by `make check` from the top build directory (HACTL may override the
# program's path).  The temporary directory is removed on exit.
set -u

HACTL=${HACTL:-./src/hactl/hactl}
if [ ! -x "$HACTL" ]; then
	echo "test_keygen: missing program $HACTL (run from the build directory)" >&2
	exit 99
fi

T=$(mktemp -d /tmp/test_keygen.XXXXXX) || exit 99
trap 'chmod -R u+rwx "$T" 2>/dev/null; rm -rf "$T"' EXIT INT TERM

n=0
fails=0
ok() { # $1 = 0 when passed, $2 = description
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		fails=$((fails + 1))
	fi
}
run() { # run hactl, keep exit status in $rc and stderr in $T/err
	"$HACTL" "$@" >"$T/out" 2>"$T/err"
	rc=$?
}

echo "1..13"

K="$T/authkey"
run keygen -f "$K"
ok "$rc" "keygen -f FILE exits 0"
[ "$(stat -c %s "$K" 2>/dev/null)" = 64 ]
ok $? "the key has 64 bytes"
[ "$(stat -c %a "$K" 2>/dev/null)" = 400 ]
ok $? "the key has mode 0400"
[ -z "$(find "$T" -name 'authkey.tmp.*')" ]
ok $? "no temporary file left"

cp "$K" "$T/old"
run keygen -f "$K"
[ "$rc" = 2 ] && grep -q -- "--force" "$T/err"
ok $? "an existing key is refused with exit 2 and names --force (rc=$rc)"
cmp -s "$K" "$T/old"
ok $? "the refused run left the key unchanged"

run keygen --force -f "$K"
ok "$rc" "--force exits 0"
[ "$(stat -c %s:%a "$K")" = 64:400 ] && ! cmp -s "$K" "$T/old"
ok $? "--force wrote a new 64-byte key, mode 0400"

run keygen --bogus
[ "$rc" = 1 ]
ok $? "an unknown option exits 1 (rc=$rc)"
run keygen -f
[ "$rc" = 1 ]
ok $? "-f without a file exits 1 (rc=$rc)"
run keygen -f "$T/x" extra
[ "$rc" = 1 ] && [ ! -e "$T/x" ]
ok $? "an extra argument exits 1 and writes nothing (rc=$rc)"

run keygen -f "$T/no/such/dir/authkey"
[ "$rc" = 3 ]
ok $? "a missing directory exits 3 (rc=$rc)"

# root writes into a read-only directory anyway: use a path under a file
run keygen -f "$K/inside"
[ "$rc" = 3 ] && [ "$(stat -c %s:%a "$K")" = 64:400 ]
ok $? "a path under a file exits 3 and leaves the key alone (rc=$rc)"

[ "$fails" = 0 ]
