"""Chaos experiments for raftkube: fault injection, recorded histories, checkers and reports.

Histories (`chaos.history`) are Jepsen-style lists of invoke/completion operations; checkers
(`chaos.checkers`) are pure functions of recorded data that return a `chaos.result.CheckResult`.
"""
