"""The streaming runtime and its stages. Never imports `rtt`."""
