#!/usr/bin/env bash
# Alice on two devices (a laptop and a phone, two profiles restored from the
# same 12 words) chatting with Bob through the `glyph` command line, then
# removing a device. tests/command_line.rs runs this against the real
# server with GLYPH (the program) and GLYPH_SERVER set; docs/client.md
# describes the same steps.
set -euo pipefail
: "${GLYPH:?the glyph program}" "${GLYPH_SERVER:?the server URL}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GLYPH_PIN="1234 5678"
laptop() { GLYPH_PROFILE="$work/laptop" "$GLYPH" "$@"; }
phone() { GLYPH_PROFILE="$work/phone" "$GLYPH" "$@"; }
bob() { GLYPH_PROFILE="$work/bob" "$GLYPH" "$@"; }
expect() { # expect NEEDLE TEXT
    case "$2" in *"$1"*) ;; *) printf 'expected %q in:\n%s\n' "$1" "$2" >&2; exit 1 ;; esac
}
refute() { # refute NEEDLE TEXT
    case "$2" in *"$1"*) printf 'did not expect %q in:\n%s\n' "$1" "$2" >&2; exit 1 ;; esac
}
count() { # count NEEDLE TEXT: how many lines hold it
    grep -cF -- "$1" <<<"$2" || true
}
status_of() { set +e; "$@" >/dev/null 2>&1; local code=$?; set -e; echo "$code"; }

out=$(laptop init)
words=$(printf '%s\n' "$out" | sed -n 3p | xargs)
alice_id=$(laptop whoami | awk '/^user id:/ {print $3}')
laptop_device=$(laptop whoami | awk '/^device:/ {print $2}')
bob init >/dev/null
bob handle set bob >/dev/null
bob_id=$(bob whoami | awk '/^user id:/ {print $3}')

# Bob and Alice talk while she has one device.
laptop contact add @bob --name bob >/dev/null
expect "Sent" "$(laptop send bob before the phone)"
expect "before the phone" "$(bob read)"

# The same words on her phone: linked, the laptop keeps working.
out=$(GLYPH_WORDS="$words" phone restore)
expect "Restored $alice_id" "$out"
expect "as device" "$out"
phone_device=$(phone whoami | awk '/^device:/ {print $2}')
[ "$phone_device" != "$laptop_device" ] || { echo "two devices, one id" >&2; exit 1; }
out=$(laptop devices)
expect "$laptop_device" "$out"
expect "$phone_device" "$out"
[ "$(count "(this device)" "$out")" -eq 1 ] || { echo "one this-device line expected: $out" >&2; exit 1; }
expect "$phone_device" "$(grep -F "(this device)" <<<"$(phone devices)")"

# Bob writes: both devices read it, each once. Bob's side notes the new device.
expect "Sent" "$(bob send "$alice_id" hello both of you)"
expect "hello both of you" "$(laptop read)"
expect "hello both of you" "$(phone read)"
expect "No new messages." "$(laptop read)"
expect "No new messages." "$(phone read)"
expect "linked a new device" "$(bob read "$alice_id")"

# What Alice sends from the phone shows on the laptop; Bob gets it once.
phone contact add "$bob_id" --name bob >/dev/null
expect "Sent" "$(phone send bob from my phone)"
expect "from my phone" "$(laptop read)"
out=$(bob read)
[ "$(count "from my phone" "$out")" -eq 1 ] || { echo "Bob read: $out" >&2; exit 1; }
history=$(laptop read bob)
expect "before the phone" "$history"
expect "hello both of you" "$history"
expect "me to bob: from my phone" "$history"

# A group with both of Alice's devices in it.
group=$(laptop group create bob)
bob read >/dev/null
expect "Sent" "$(bob group send "$group" hi group)"
expect "hi group" "$(laptop read)"
expect "hi group" "$(phone read)"

# The phone is lost: the laptop removes it.
[ "$(status_of laptop devices remove "$laptop_device")" -eq 2 ]
expect "Removed device $phone_device" "$(laptop devices remove "$phone_device")"
refute "$phone_device" "$(laptop devices)"
expect "Sent" "$(bob send "$alice_id" only the laptop now)"
expect "only the laptop now" "$(laptop read)"
[ "$(status_of phone read)" -eq 3 ]
set +e
err=$(phone read 2>&1 >/dev/null)
set -e
expect "removed from your account" "$err"
echo "linked devices walk-through: ok"
