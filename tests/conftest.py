"""Shared test settings. This folder is on sys.path (pytest puts a
conftest's folder there), so tests import helpers as `support.*`."""
import os
import tempfile

# The verifier runs after every pass in tests (see ir/passes/manager.py).
os.environ.setdefault("JITC_VERIFY", "1")
# Compiled code is cached in a folder of this run's own, never in the user's cache.
os.environ.setdefault("JITC_CACHE_DIR", tempfile.mkdtemp(prefix="jitc-test-cache-"))

from hypothesis import HealthCheck, settings

# CI runs are derandomized (the same examples every run, so a red CI means a change broke
# something); JITC_HYPOTHESIS_PROFILE=thorough searches afresh with many more examples.
settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=1000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("JITC_HYPOTHESIS_PROFILE", "ci"))
