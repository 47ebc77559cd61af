"""What tools/mutation/run.py mutates, and the tests that must kill each module's mutants.

Paths are relative to the installed package (int8q/).  Each module maps to the
test files that exercise it; a mutant runs only those (``pytest -x``), so keep
each list tight: a survivor costs the whole list's time.  A module missing here
is an error, not a silent skip (run.py checks every file under MODULES).
"""

# Files and folders (relative to int8q/) whose .py files are mutated.
MODULES = (
    "io",
    "cli",
    "_checks.py",
    "_checks_options.py",
    "_operands.py",
    "_granularity.py",
    "_calibrate.py",
    "_calibration_methods.py",
    "_calibration_state.py",
    "_calibration_stream.py",
)

# Never mutated: package markers and re-export lists, where a mutant is an
# import error (always killed) or changes nothing.
SKIP = (
    "io/_containers/__init__.py",
    "io/_formats/__init__.py",
    "io/_policy/__init__.py",
    "io/_support/__init__.py",
    "cli/__main__.py",
)

IO = "tests/io/"
CLI = "tests/cli/"
CORE = "tests/core/"
ADDONS = "tests/addons/"

_FILES = (IO + "test_io.py", IO + "test_hostile_files.py")
_HF = (IO + "test_hf.py",)
_GGUF = (IO + "test_gguf_file.py",)
_ATOMIC = (IO + "test_atomic_order.py", IO + "test_leftovers.py", IO + "test_stale_temporaries.py")
_CALIB = (CORE + "test_calib.py", CORE + "test_calib_state.py", CORE + "test_calib_intake.py")
# Fastest first: -x stops at the first failure.  test_cli_outputs.py (about
# a minute) only for the module it covers.
_CLI = (
    CLI + "test_cli.py",
    CLI + "test_cli_files.py",
    CLI + "test_cli_args.py",
    CLI + "test_cli_feedback.py",
)

# Longest matching prefix wins.
TESTS = {
    "io/__init__.py": (IO + "test_io.py", IO + "test_io_intake.py", *_HF),
    "io/_compare.py": (IO + "test_compare.py",),
    "io/_compare_plot.py": (IO + "test_compare.py",),
    "io/_hub.py": (IO + "test_hub_ids.py",),
    "io/_tensors.py": _FILES,
    # read_original: the float originals `compare` reads.
    "io/_containers/_gguf.py": (*_GGUF, IO + "test_compare.py"),
    "io/_containers/_hf.py": _HF,
    "io/_containers/_model_files.py": _HF,
    "io/_containers/_sharded.py": (*_HF, IO + "test_io.py"),
    "io/_containers": (*_FILES, IO + "test_conformance.py"),
    "io/_formats/_gguf_format.py": _GGUF,
    "io/_formats": (*_FILES, IO + "test_unicode_metadata.py"),
    "io/_policy/_gguf_rules.py": _GGUF,
    "io/_policy/_suffix.py": (IO + "test_io.py", CLI + "test_output_policy.py"),
    "io/_policy/_convention.py": (*_HF, IO + "test_io.py", IO + "test_hostile_files.py"),
    "io/_policy": (*_HF, IO + "test_io.py"),
    "io/_support/_atomic.py": _ATOMIC,
    "io/_support/_outputs.py": (*_ATOMIC, CLI + "test_output_policy.py"),
    "io/_support/_pipeline.py": (IO + "test_pipeline.py", IO + "test_io.py"),
    "io/_support/_limits.py": (IO + "test_hostile_files.py", IO + "test_io_memory.py"),
    "io/_support": (*_FILES, IO + "test_pipeline.py"),
    "cli/_files.py": (
        CLI + "test_cli_files.py",
        CLI + "test_output_policy.py",
        CLI + "test_cli_outputs.py",
    ),
    "cli": _CLI,
    "_checks.py": (
        CORE + "test_intake.py",
        CORE + "test_errors.py",
        CORE + "test_config.py",
        CORE + "test_calib_state.py",
    ),
    "_checks_options.py": (
        CORE + "test_intake.py",
        CORE + "test_config.py",
        ADDONS + "test_ggml.py",
    ),
    "_operands.py": (CORE + "test_operands.py", CORE + "test_intake.py"),
    "_granularity.py": (CORE + "test_intake.py", CORE + "test_per_column.py"),
    "_calibrate.py": _CALIB,
    "_calibration_methods.py": _CALIB,
    "_calibration_state.py": _CALIB,
    "_calibration_stream.py": _CALIB,
}


def tests_for(module):
    """The test files for `module` (a path relative to int8q/)."""
    matches = [prefix for prefix in TESTS if module == prefix or module.startswith(prefix + "/")]
    if not matches:
        raise KeyError(f"tools/mutation/targets.py: no tests listed for int8q/{module}")
    return TESTS[max(matches, key=len)]
