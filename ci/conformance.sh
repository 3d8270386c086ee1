#!/usr/bin/env bash
# The conformance gate for an implementation of Graph's participant: invite,
# from any CI: install the suite's program (unless it is on PATH already),
# start the implementation (optional), run the suite, leave the report and
# the JUnit file for the CI to keep. The exit code is the suite's: 0 passed,
# 101 a test failed, 2 could not run (see the README's exit codes).
#
# Variables:
#   CONFORMANCE_TARGET   the implementation's base URL, ending at /v1.0 (required)
#   CONFORMANCE_TOKEN    the bearer token (from the CI's secrets; never printed)
#   CONFORMANCE_OUT      where report.json, report.md, report.html and
#                        junit.xml go (default: conformance-report)
#   SUITE_SOURCE         where to install the program from when it is not on
#                        PATH: a git URL (cargo install --git) or a checkout's
#                        path (cargo install --path)
#   START_COMMAND        a command that starts the implementation, run in the
#                        background and stopped at the end (optional)
#   READY_TIMEOUT_SECS   how long the implementation may take to accept
#                        connections (default 60)
# Any other CONFORMANCE_* variable is an option of the suite (CONFORMANCE_PROFILE,
# CONFORMANCE_KNOWN_FAILURES, …); extra arguments are passed on to it.
set -euo pipefail

: "${CONFORMANCE_TARGET:?set CONFORMANCE_TARGET to the base URL of the implementation, ending at /v1.0}"
out="${CONFORMANCE_OUT:-conformance-report}"

if ! command -v invite-conformance >/dev/null 2>&1; then
  : "${SUITE_SOURCE:?invite-conformance is not on PATH: set SUITE_SOURCE to a git URL or a checkout of the suite}"
  if [ -d "$SUITE_SOURCE" ]; then
    cargo install --locked --path "$SUITE_SOURCE" invite-conformance
  else
    cargo install --locked --git "$SUITE_SOURCE" invite-conformance
  fi
fi

started=""
stop() {
  if [ -n "$started" ]; then
    kill "$started" 2>/dev/null || true
    wait "$started" 2>/dev/null || true
  fi
}
trap stop EXIT

if [ -n "${START_COMMAND:-}" ]; then
  bash -c "$START_COMMAND" &
  started=$!
  # Wait until the target accepts connections: each try ends as soon as it
  # is answered or refused, the whole wait is bounded.
  hostport="$(printf '%s' "$CONFORMANCE_TARGET" | sed -E 's#^[a-z]+://([^/]+).*#\1#')"
  deadline=$(( $(date +%s) + ${READY_TIMEOUT_SECS:-60} ))
  until (exec 3<>"/dev/tcp/${hostport%:*}/${hostport##*:}") 2>/dev/null; do
    if ! kill -0 "$started" 2>/dev/null; then
      echo "error: START_COMMAND exited before the target accepted connections" >&2
      exit 2
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "error: $CONFORMANCE_TARGET accepted no connection within ${READY_TIMEOUT_SECS:-60} s" >&2
      exit 2
    fi
    # A process we did not write announces no readiness: poll, briefly,
    # within the deadline above.
    sleep 0.2
  done
fi

mkdir -p "$out"
status=0
invite-conformance --report "$out" --junit "$out/junit.xml" "$@" || status=$?
echo "conformance: exit $status; report in $out/report.html, JUnit in $out/junit.xml" >&2
exit "$status"
