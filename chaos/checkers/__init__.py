"""Checkers: pure functions of recorded data (histories, watch streams, samples) -> `CheckResult`."""

from chaos.checkers.control import check_deployment
from chaos.checkers.linearizable import check_linearizable
from chaos.checkers.sets import check_nothing_lost
from chaos.checkers.watch import check_watches

__all__ = ["check_deployment", "check_linearizable", "check_nothing_lost", "check_watches"]
