#!/usr/bin/env bash
# Renders the prompt set: every `id<TAB>text` line of en/clips.txt is spoken by espeak-ng and
# written to en/<id>.wav as 16 kHz mono 16-bit PCM, leading and trailing silence trimmed, peak
# normalized to -3 dBFS, with 40 ms of silence at each end (the gap between clips played one
# after another). WAVs of ids no longer listed are removed. The WAVs are committed: the switch
# embeds them at build time (actors/build.rs), so building or running needs neither program.
#
# en/clips.txt is not edited by hand: it is the engine's clip table (`CLIPS` in
# engine/src/prompt/clip.rs) written out by
#   SWITCHBOARD_WRITE_CLIPS=1 cargo test -p switchboard-actors --lib clips_txt
# and that test fails while the file differs from the table. Change a clip there, regenerate
# the list, run this script, commit the three.
#
# Needs espeak-ng and sox (Debian: apt-get install espeak-ng sox). The output depends only on
# their versions, so re-rendering with the same ones changes no file.
#
# Usage: actors/prompts/render.sh [voice]   (default voice: en-us)
set -euo pipefail
cd "$(dirname "$0")/en"

VOICE="${1:-en-us}"
# words per minute: a little slower than espeak-ng's 175, for a telephone line
SPEED=160

for tool in espeak-ng sox; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "render.sh: $tool is not installed (Debian: apt-get install espeak-ng sox)" >&2
		exit 1
	}
done

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

declare -A listed=()
n=0
while IFS=$'\t' read -r id text; do
	case "$id" in '' | '#'*) continue ;; esac
	if ! [[ "$id" =~ ^[a-z0-9]+(-[a-z0-9]+)*$ ]]; then
		echo "render.sh: clip id \"$id\" is not kebab-case" >&2
		exit 1
	fi
	if [ -z "$text" ]; then
		echo "render.sh: clip $id has no text" >&2
		exit 1
	fi
	if [ -n "${listed[$id]:-}" ]; then
		echo "render.sh: clip $id is listed twice" >&2
		exit 1
	fi
	listed[$id]=1
	# the text goes in on stdin: no shell and no option parsing ever sees it
	printf '%s' "$text" | espeak-ng -v "$VOICE" -s "$SPEED" --stdin -w "$tmp/raw.wav"
	# -D: no dither (silence stays digital silence, output is repeatable); silence effects cut
	# below -45 dBFS at the start, and (reversed) at the end
	sox -D "$tmp/raw.wav" -r 16000 -c 1 -b 16 -e signed-integer "$tmp/out.wav" \
		silence 1 0.01 -45d reverse silence 1 0.01 -45d reverse \
		gain -n -3 pad 0.04 0.04
	mv "$tmp/out.wav" "$id.wav"
	n=$((n + 1))
done <clips.txt

for f in *.wav; do
	[ -e "$f" ] || continue
	if [ -z "${listed[${f%.wav}]:-}" ]; then
		rm -- "$f"
		echo "removed $f (not in clips.txt)"
	fi
done

echo "rendered $n clips with espeak-ng voice $VOICE: $(du -ch -- *.wav | tail -1 | cut -f1)"
