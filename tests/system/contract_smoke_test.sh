#!/usr/bin/env bash
# Runs the shared contract smoke (../shared/contract-smoke) against this build.
# The smoke picks its own ports at random, its peer ports inside Linux's
# ephemeral range, where a connection of a test running in parallel can hold
# one as its source port. A run that failed only because a node could not
# bind its port ("Address already in use") says nothing about the contract,
# so it is run again, up to three times in all; any other failure is final.
# Usage: contract_smoke_test.sh path/to/contract-smoke path/to/converge
set -u
smoke=$1 bin=$2
for attempt in 1 2 3; do
  out=$("$smoke" "$bin" 2>&1); rc=$?
  echo "$out"
  [ $rc = 0 ] && exit 0
  grep -q "Address already in use" <<<"$out" || exit $rc
  echo "contract smoke: attempt $attempt lost a port to another process; trying fresh ports"
done
exit $rc
