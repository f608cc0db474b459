#!/usr/bin/env bash
# What a newcomer meets at the `glyph` command line, each rough edge found
# in an outside run, checked: every exit code of the documented table,
# validated timers, no orphan accounts, a login kept across commands, short
# ids and prefixes, named groups, helpful errors, receipts, reactions, edits
# and deletes. tests/command_line.rs runs this against the real server with
# GLYPH (the program) and GLYPH_SERVER set.
set -euo pipefail
: "${GLYPH:?the glyph program}" "${GLYPH_SERVER:?the server URL}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GLYPH_PIN="1234 5678"
alice() { GLYPH_PROFILE="$work/alice" "$GLYPH" "$@"; }
bob() { GLYPH_PROFILE="$work/bob" "$GLYPH" "$@"; }
expect() { # expect NEEDLE TEXT
    case "$2" in *"$1"*) ;; *) printf 'expected %q in:\n%s\n' "$1" "$2" >&2; exit 1 ;; esac
}
refute() { # refute NEEDLE TEXT
    case "$2" in *"$1"*) printf 'did not expect %q in:\n%s\n' "$1" "$2" >&2; exit 1 ;; esac
}
# code_of COMMAND...: its exit code; its standard error is kept in $err.
code_of() {
    set +e
    "$@" >"$work/out" 2>"$work/err" </dev/null
    local code=$?
    set -e
    err=$(cat "$work/err")
    echo "$code"
}
# exits CODE NEEDLE COMMAND...: the command exits CODE and says NEEDLE.
exits() {
    local want=$1 needle=$2
    shift 2
    local got
    got=$(code_of "$@")
    err=$(cat "$work/err")
    [ "$got" -eq "$want" ] || { printf 'exit %s, not %s, from: %s\n%s\n' "$got" "$want" "$*" "$err" >&2; exit 1; }
    expect "$needle" "$err$(cat "$work/out")"
}

# --- Setting up: checks come before anything is sent. ---
exits 2 "at least 4 characters" env GLYPH_PIN=1 GLYPH_PROFILE="$work/short-pin" "$GLYPH" init
exits 2 "no PIN: set GLYPH_PIN" env -u GLYPH_PIN GLYPH_PROFILE="$work/no-pin" "$GLYPH" init
exits 2 "the server must be a URL" env GLYPH_PROFILE="$work/bad-url" "$GLYPH" --server notaurl init
exits 2 "no server" env -u GLYPH_SERVER GLYPH_PROFILE="$work/no-url" "$GLYPH" init
out=$(alice init)
alice_id=$(printf '%s\n' "$out" | awk '/^user id:/ {print $3}')
bob init >/dev/null
bob handle set bob >/dev/null
# A second init on the same profile stops before the server is asked (so
# it says the same with no server at all) and registers nothing.
exits 3 "exists" alice init
exits 3 "exists" env GLYPH_SERVER=http://127.0.0.1:9 GLYPH_PROFILE="$work/alice" "$GLYPH" init
expect "@bob" "$(bob whoami)"
expect "(none" "$(alice whoami)"

# --- People by name, handle, or the first characters of an id. ---
alice contact add @bob --name bobby >/dev/null
exits 2 "did you mean bobby?" alice send bobyy hi
exits 2 "already a contact" alice contact add @bob --name robert
expect "is now robert" "$(alice contact rename bobby robert)"
alice contact rename robert bobby >/dev/null
bob_id=$(bob whoami | awk '/^user id:/ {print $3}')
expect "Sent" "$(alice send "${bob_id:0:8}" by short id)"
expect "by short id" "$(bob read)"
exits 2 "the message is empty" alice send bobby "   "

# --- Timers: validated when set, with units. ---
exits 2 "between 1 second and 365 days" alice timer bobby 0
exits 2 "not a duration" alice timer bobby soon
exits 2 "not a duration" alice send bobby --expires later hi
expect "disappear 1h after sending" "$(alice timer bobby 1h)"
expect "Sent" "$(alice send bobby this one disappears)"
expect "(disappearing" "$(bob read)"
expect "no longer disappear" "$(alice timer bobby off)"

# --- A login is kept across commands: a script may read in a loop well
# past the server's login limit (60 a minute from one address).
for _ in $(seq 1 70); do alice read >/dev/null; done

# --- Receipts, reactions, edits and deletes. ---
expect "Sent [" "$(alice send bobby are you there)"
number=$(alice read bobby | grep 'are you there' | sed -E 's/^\[([0-9]+)\].*/\1/')
bob read >/dev/null                    # Bob's device receives and shows it
expect "read it" "$(alice read)"       # Alice learns both
expect "(read)" "$(alice read bobby | grep 'are you there')"
bob_number=$(bob read "$alice_id" | grep 'are you there' | sed -E 's/^\[([0-9]+)\].*/\1/')
expect "Reacted" "$(bob react "$bob_number" 👍)"
expect "reacted 👍" "$(alice read)"
expect "reactions: 👍 bobby" "$(alice read bobby)"
expect "Edited" "$(alice edit "$number" are you there, bob)"
expect "edited it: are you there, bob" "$(bob read)"
expect "(edited" "$(bob read "$alice_id" | grep 'are you there, bob')"
exits 2 "only your own messages" bob edit "$bob_number" mine now
expect "Deleted" "$(alice delete "$number")"
bob read >/dev/null
expect "[deleted]" "$(bob read "$alice_id")"
expect "Receipts are off" "$(bob receipts off)"
alice send bobby quietly >/dev/null
bob read >/dev/null
refute "received it" "$(alice read)"

# --- Groups with names, named by name or short id. ---
group=$(alice group create --name "book club" bobby)
[ "${#group}" -eq 8 ] || { echo "a short group id expected: $group" >&2; exit 1; }
expect "Sent" "$(alice group send "book club" first meeting)"
expect '"book club"' "$(bob read)"
expect '"book club"' "$(bob group list)"
expect "is now \"reading club\"" "$(alice group rename "$group" "reading club")"
expect "Sent" "$(bob group send "$group" see you there)"

# --- Files: a clear message for a missing one, no silent overwrite. ---
exits 1 "nope.jpg: no such file" alice send-file bobby "$work/nope.jpg"
head -c 5000 /dev/urandom >"$work/report.bin"
expect "Sent" "$(alice send-file bobby "$work/report.bin")"
number=$(bob read | grep 'report.bin' | sed -E 's/^\[([0-9]+)\].*/\1/')
mkdir "$work/downloads"
( cd "$work/downloads" && bob get-file "$number" >/dev/null )
exits 1 "add --force" bash -c "cd '$work/downloads' && GLYPH_PROFILE='$work/bob' '$GLYPH' get-file $number"
( cd "$work/downloads" && bob get-file "$number" --force >/dev/null )
cmp "$work/report.bin" "$work/downloads/report.bin"

# --- Every exit code of the table (4, 7 and 8 need a server that goes
# away or lies: tests/command_line.rs and tests/lying_server.rs). ---
exits 0 "" alice whoami
exits 1 "no such file" alice share create --file "$work/missing.txt"
exits 2 "unrecognized subcommand" alice frobnicate
exits 2 "no message 999999" alice react 999999 👍
exits 3 "wrong PIN" env GLYPH_PIN=wrong GLYPH_PROFILE="$work/alice" "$GLYPH" whoami
exits 3 "no profile" env GLYPH_PROFILE="$work/nobody" "$GLYPH" whoami
link=$(alice share create "the wifi password is hunter2" 2>/dev/null)
exits 2 "including #key=" bob share open "${link%%#*}"
wrong="${link%%#key=*}#key=$(printf 'A%.0s' $(seq 1 43))"
exits 6 "crypto" bob share open "$wrong"
exits 5 "share_gone" bob share open "$link"
echo "command-line polish: ok"
