#!/usr/bin/env bash
# Runs every check CI runs: formatting, vet, race tests on the concurrent
# packages, then the whole test suite including the process-level
# integration tests. Installs the system tools the tests drive (sipp,
# chromium) when they are missing.
#
#   ./test.sh            # everything (about 12 minutes on 2 cores, 15 on a busy machine)
#   ./test.sh -short     # skips the slow integration and soak tests
set -euo pipefail
cd "$(dirname "$0")"

need=()
command -v sipp >/dev/null 2>&1 || need+=(sip-tester)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# Chinese fonts, so that screenshots of zh-CN pages show text, not boxes.
fc-list :lang=zh 2>/dev/null | grep -q . || need+=(fonts-wqy-zenhei)
if ((${#need[@]})) && command -v apt-get >/dev/null 2>&1; then
	sudo=""
	[[ $(id -u) != 0 ]] && sudo="sudo"
	echo "test.sh: installing ${need[*]}" >&2
	$sudo apt-get update -qq >/dev/null || true
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null || echo "test.sh: could not install ${need[*]}; tests that need them will fail" >&2
fi

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './gen/*'))
if [[ -n $unformatted ]]; then
	echo "gofmt needed on:" >&2
	echo "$unformatted" >&2
	exit 1
fi
go vet ./...
# Stored events and the API stay compatible with the last release: buf
# breaking (WIRE_JSON, see buf.yaml) against its schema, committed as
# proto/release.binpb (proto/release.sh makes it). A finding listed in
# proto/release.accepted was reviewed; proto/release_test.go proves those
# compatible. Any other finding fails.
# Findings are buf's standard output; its standard error (and go's
# "downloading" lines when the tools' modules are not cached yet, which
# once failed a fresh machine's run as findings) is shown as it comes.
breaking=0
findings=$(go tool -modfile=tools/go.mod buf breaking --against proto/release.binpb) || breaking=$?
if ((breaking != 0 && breaking != 100)); then
	echo "$findings" >&2
	echo "buf breaking could not run" >&2
	exit 1
fi
unaccepted=$(sed -E 's/^([^:]+):[0-9]+:[0-9]+:/\1:/' <<<"$findings" | grep -vxF -f <(grep -v '^#' proto/release.accepted) || true)
if [[ -n $unaccepted ]]; then
	echo "protobuf changes that break the last release's encoding:" >&2
	echo "$unaccepted" >&2
	exit 1
fi
# Fuzz the SIP request handlers, the wire check through the switch and on
# its own, a little on every run (about 45 s in all on 2 cores): whatever a
# caller can send. Budgets are counts of inputs, not durations: with a
# duration, Go 1.26's fuzz coordinator can report "context deadline
# exceeded" as a failure when the time runs out under load, with no
# failing input (golang/go#75804, fixed in Go 1.27).
if [[ " $* " != *" -short "* ]]; then
	go test -run=NONE -fuzz='^FuzzWire$' -fuzztime=60000x ./telephony/pbx/
	go test -run=NONE -fuzz='^FuzzSplit$' -fuzztime=120000x ./telephony/sipwire/
	go test -run=NONE -fuzz='^FuzzRequest$' -fuzztime=150000x ./telephony/pbx/
	go test -run=NONE -fuzz='^FuzzCredentials$' -fuzztime=120000x ./telephony/sipauth/
	go test -run=NONE -fuzz='^FuzzContacts$' -fuzztime=40000x ./telephony/pbx/
fi
# The packages with concurrency run under the race detector, the others
# without it: the race run is every test of those packages, so running
# them again without it would check nothing more (and took a fifth of the
# suite's time on 2 cores).
raced=(./replication/... ./node/... ./hub/... ./api/... ./telephony/... ./wiring/...)
go test -race -count=1 "$@" "${raced[@]}"
others=$(comm -23 <(go list ./... | sort) <(go list "${raced[@]}" | sort))
go test -count=1 -timeout 14m "$@" $others
