"""Launchers for clusters on one machine: store replicas, control-plane replicas and node agents as real processes
(`raftkube up`, the tests, the benchmarks and the chaos runner use them)."""
