"""The pass pipeline. Each pass is one module with one public function
`pass_name(graph) -> bool`; importing this package registers them all."""
from . import (  # noqa: F401  (registration)
    batch_matmul_in_loops, canonicalize, decompose_variance, eliminate_common_subexpressions, eliminate_dead_code,
    fold_constants, freeze_parameters, fuse_elementwise, fuse_rows, hoist_loop_invariants, inline_calls,
    propagate_types, unroll_loops)
from .manager import (DEFAULT_ORDER, Pass, PassManager, all_passes, get_pass, parse_pipeline,
                      pipeline_for_level, register_pass, run_pipeline)
from .propagate_types import specialize

__all__ = ["DEFAULT_ORDER", "Pass", "PassManager", "all_passes", "get_pass", "parse_pipeline",
           "pipeline_for_level", "register_pass", "run_pipeline", "specialize", "optimize"]


def optimize(graph, level: int = 2, **options) -> bool:
    """Run the default pipeline for `level` (0 = only the inlining every
    backend needs, 1 = safe rewrites, 2 = all, fusion included)."""
    return run_pipeline(graph, pipeline_for_level(level), **options)
