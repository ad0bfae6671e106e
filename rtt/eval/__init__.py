"""Latency-versus-quality evaluation of the live pipeline over the sample corpus (`rtt eval`)."""

from .cli import add_eval_parser, run_eval
from .sweep import EvalPlan, Setting, load_sweep

__all__ = ["EvalPlan", "Setting", "add_eval_parser", "load_sweep", "run_eval"]
