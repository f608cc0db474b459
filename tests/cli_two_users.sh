#!/usr/bin/env bash
# Two people, Alice and Bob, chatting with the `glyph` command line.
# tests/command_line.rs runs this against the real server with GLYPH (the
# program) and GLYPH_SERVER set; docs/client.md walks through the same steps.
set -euo pipefail
: "${GLYPH:?the glyph program}" "${GLYPH_SERVER:?the server URL}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GLYPH_PIN="1234 5678"          # for scripts; people get a prompt
alice() { GLYPH_PROFILE="$work/alice" "$GLYPH" "$@"; }
bob() { GLYPH_PROFILE="$work/bob" "$GLYPH" "$@"; }
expect() { # expect NEEDLE TEXT
    case "$2" in *"$1"*) ;; *) printf 'expected %q in:\n%s\n' "$1" "$2" >&2; exit 1 ;; esac
}
status_of() { set +e; "$@" >/dev/null 2>&1; local code=$?; set -e; echo "$code"; }

# Accounts: the words are shown once.
out=$(alice init)
expect "recovery words" "$out"
words=$(printf '%s\n' "$out" | sed -n 3p | xargs)
[ "$(wc -w <<<"$words")" -eq 12 ] || { echo "no 12 words in: $out" >&2; exit 1; }
bob init >/dev/null
bob handle set bob
alice_id=$(alice whoami | awk '/^user id:/ {print $3}')

# Alice finds Bob by handle, checks his safety number, and writes.
out=$(alice contact add @bob --name bobby)
expect "Added bobby" "$out"
out=$(alice contact verify bobby --yes)
expect "is verified" "$out"
expect "Sent" "$(alice send bobby hello from the command line)"
out=$(bob read)
expect "hello from the command line" "$out"
expect "${alice_id:0:8}" "$out"   # Alice has no handle: Bob sees her short id
expect "Sent" "$(bob send "$alice_id" hi alice)"
expect "hi alice" "$(alice read)"
expect "No new messages." "$(alice read)"
expect "hello from the command line" "$(alice read bobby)"

# A file, sealed on Alice's device, checked on Bob's.
head -c 200000 /dev/urandom >"$work/photo.jpg"
expect "Sent" "$(alice send-file bobby "$work/photo.jpg")"
number=$(bob read | grep 'photo.jpg' | sed -E 's/^\[([0-9]+)\].*/\1/')
out=$(bob get-file "$number" --out "$work/received.jpg")
expect "checksum verified" "$out"
cmp "$work/photo.jpg" "$work/received.jpg"

# A group.
group=$(alice group create bobby)
expect "Sent" "$(alice group send "$group" hello group)"
expect "hello group" "$(bob read)"
expect "$group" "$(bob group list)"

# A one-view share: the second open fails (exit code 5: the server refused).
link=$(alice share create "the wifi password is hunter2")
expect "#key=" "$link"
expect "the wifi password is hunter2" "$(bob share open "$link" 2>/dev/null)"
[ "$(status_of bob share open "$link")" -eq 5 ]

# Clear errors with documented exit codes (tests/cli_polish.sh checks
# every row of the table).
[ "$(GLYPH_PIN=wrong status_of alice whoami)" -eq 3 ]
[ "$(GLYPH_PROFILE="$work/nobody" status_of "$GLYPH" whoami)" -eq 3 ]
[ "$(status_of alice send nobody-by-that-name hi)" -eq 2 ]
[ "$(status_of alice frobnicate)" -eq 2 ]

# A closed pipe is not an error (the reader is gone before glyph writes).
set +e +o pipefail
alice read bobby | true
code=${PIPESTATUS[0]}
set -e -o pipefail
[ "$code" -eq 0 ] || { echo "glyph failed on a closed pipe: $code" >&2; exit 1; }

# Alice's second device, from the 12 words: linked beside the first, it
# reads what is sent from now on (tests/cli_linked_devices.sh goes further).
out=$(GLYPH_WORDS="$words" GLYPH_PROFILE="$work/alice2" "$GLYPH" restore)
expect "Restored $alice_id" "$out"
expect "Sent" "$(bob send "$alice_id" welcome, second device)"
expect "welcome, second device" "$(GLYPH_PROFILE="$work/alice2" "$GLYPH" read)"
expect "welcome, second device" "$(alice read)"
echo "command-line walk-through: ok"
