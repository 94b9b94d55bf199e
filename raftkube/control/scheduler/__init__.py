"""The scheduler: binds unassigned pods to nodes (filters, scores, a cache with assumed pods, a queue).

`runner.SchedulerRunner` campaigns for the `raftkube-scheduler` Lease and, while it leads,
watches Pods, Nodes and Namespaces, decides one pod at a time on the in-memory snapshot
(`cache.SchedulerCache`, which already holds the pods it assumed) and binds concurrently.
"""
