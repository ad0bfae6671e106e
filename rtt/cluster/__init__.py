"""rtt on a Ray cluster (issue 21): model engines as Ray Serve deployments, rooms as actors."""
