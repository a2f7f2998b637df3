#!/usr/bin/env bash
# Makes proto/release.binpb, the schema test.sh holds the protos to, from
# the proto/ of a release, and empties proto/release.accepted (each
# release is its own baseline). Run it when a release is cut, and commit
# both files:
#
#   proto/release.sh <commit or tag of the release>
#
# The image is committed, rather than built from git history by
# buf breaking --against '.git#ref=…', so that the check also runs on a
# shallow CI checkout. Building the same commit again gives the same
# bytes.
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:?usage: proto/release.sh <release commit or tag>}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git archive "$rev" proto buf.yaml | tar -x -C "$tmp"
go tool -modfile=tools/go.mod buf build "$tmp" --exclude-source-info -o proto/release.binpb
cat >proto/release.accepted <<ACCEPTED
# Findings of buf breaking against proto/release.binpb (release $rev)
# that were reviewed and accepted: changes buf cannot prove compatible,
# one a line as test.sh prints them (file:message, without line and
# column). proto/release_test.go proves them wire- and JSON-compatible.
ACCEPTED
echo "proto/release.binpb is now the schema of $rev"
