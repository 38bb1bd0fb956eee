"""The lab's MPI protocol in one place: which rank leads, and the tag of each kind of message
that travels outside the collectives (point to point, probed for while the ranks compute)."""

ROOT = 0  # the rank that plans, hands out and gathers

# Bytes of laid-out results rank 0 takes in one Gatherv round, from every rank together: they
# pass through a buffer this size into their slots, not one as big as all of them (issue 20).
GATHER_ROUND_BYTES = 8 << 20

TAG_ASK = 71  # dynamic schedule: a rank asks rank 0 for its next chunk
TAG_GIVE = 72  # dynamic schedule: rank 0's answer, a chunk or None
TAG_PROGRESS = 73  # a rank's items done, for the tally on rank 0
TAG_FAILED = 74  # fail fast: a rank tells the others it failed
TAG_LEAVING = 75  # a script's rank leaves (or fails) between two runs
