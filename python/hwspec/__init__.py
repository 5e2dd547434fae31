"""Python bindings for libhwspec (ctypes over ``libhwspec.so.0``).

Asks hwspec directly instead of parsing ``hwspec`` CLI output::

    import hwspec

    with hwspec.probe(backends="cpu,opencl,vulkan") as report:
        print(report.capabilities)           # [("cpu", None), ("opencl", "3.0"), ...]
        verdict = report.check("opencl (>= 1.2) | cuda (>= 12.0)")
        print(verdict.satisfied, verdict.explanation)
        for backend in report.json()["backends"]:  # docs/report.md, schema 2
            for device in backend["devices"]:
                for validation in device["validations"]:
                    print(device["name"], validation["kind"], validation["passed"])

The library is ``$HWSPEC_LIBRARY`` (a path) when set, else ``libhwspec.so.0`` from the dynamic
linker's search path. Like the C library, probing runs in worker processes: a crashing driver
cannot take the Python process down. Every failure raises :class:`Error` (or one of its
subclasses) carrying the library's result code and its message. Reports and verdicts are
immutable and may be shared between threads; ctypes releases the GIL during each call.
"""

import ctypes
import json as _json
import os

__all__ = [
    "Error",
    "NullError",
    "InvalidError",
    "ParseError",
    "ControlError",
    "OverrideError",
    "IoError",
    "PanicError",
    "Report",
    "Verdict",
    "version",
    "probe",
    "package_requirement",
]

# Result codes (enum hwspec_result in hwspec.h).
OK = 0
ERR_NULL = 1
ERR_INVALID = 2
ERR_PARSE = 3
ERR_CONTROL = 4
ERR_OVERRIDE = 5
ERR_IO = 6
ERR_PANIC = 7

_CODE_NAMES = {
    ERR_NULL: "HWSPEC_ERR_NULL",
    ERR_INVALID: "HWSPEC_ERR_INVALID",
    ERR_PARSE: "HWSPEC_ERR_PARSE",
    ERR_CONTROL: "HWSPEC_ERR_CONTROL",
    ERR_OVERRIDE: "HWSPEC_ERR_OVERRIDE",
    ERR_IO: "HWSPEC_ERR_IO",
    ERR_PANIC: "HWSPEC_ERR_PANIC",
}

# enum hwspec_package_file
_PACKAGE_KINDS = {"control": 0, "dsc": 1, "deb": 2}


class Error(Exception):
    """A libhwspec call failed: ``code`` is the hwspec_result, ``message`` hwspec_last_error()."""

    def __init__(self, code, message):
        super().__init__(code, message)
        self.code = code
        self.message = message

    def __str__(self):
        return "%s (%s)" % (self.message, _CODE_NAMES.get(self.code, "code %d" % self.code))


class NullError(Error):
    """A required object was missing, e.g. a report used after close()."""


class InvalidError(Error, ValueError):
    """An argument is invalid: level, backend name, operator, kind, index or encoding."""


class ParseError(Error, ValueError):
    """A requirement expression does not parse; the message names the column."""


class ControlError(Error):
    """A debian/control, .dsc or .deb file cannot be read or is malformed."""


class OverrideError(Error):
    """An HWSPEC_OVERRIDE_* environment variable is invalid."""


class IoError(Error):
    """hwspec itself failed (not a missing runtime or worker: those are in the report)."""


class PanicError(Error):
    """A bug in hwspec, caught at the library boundary."""


_ERROR_CLASSES = {
    ERR_NULL: NullError,
    ERR_INVALID: InvalidError,
    ERR_PARSE: ParseError,
    ERR_CONTROL: ControlError,
    ERR_OVERRIDE: OverrideError,
    ERR_IO: IoError,
    ERR_PANIC: PanicError,
}


def _load():
    path = os.environ.get("HWSPEC_LIBRARY") or "libhwspec.so.0"
    lib = ctypes.CDLL(path)

    c_int, c_bool, c_size_t, c_uint32 = ctypes.c_int, ctypes.c_bool, ctypes.c_size_t, ctypes.c_uint32
    c_char_p, c_void_p = ctypes.c_char_p, ctypes.c_void_p
    # Handles and returned strings stay c_void_p: a returned char * must reach
    # hwspec_string_free unchanged, which a c_char_p result (converted to bytes) would lose.
    out_handle = ctypes.POINTER(c_void_p)
    signatures = {
        "hwspec_version": (c_char_p, []),
        "hwspec_last_error": (c_char_p, []),
        "hwspec_options_new": (c_int, [out_handle]),
        "hwspec_options_free": (None, [c_void_p]),
        "hwspec_options_set_backends": (c_int, [c_void_p, c_char_p]),
        "hwspec_options_set_level": (c_int, [c_void_p, c_char_p]),
        "hwspec_options_set_timeout_ms": (c_int, [c_void_p, c_uint32]),
        "hwspec_options_set_use_cache": (c_int, [c_void_p, c_bool]),
        "hwspec_options_set_max_age_s": (c_int, [c_void_p, c_uint32]),
        "hwspec_options_set_trust_env": (c_int, [c_void_p, c_bool]),
        "hwspec_options_set_worker": (c_int, [c_void_p, c_char_p]),
        "hwspec_probe": (c_int, [c_void_p, out_handle]),
        "hwspec_report_free": (None, [c_void_p]),
        "hwspec_report_json": (c_int, [c_void_p, out_handle]),
        "hwspec_report_capability_count": (c_int, [c_void_p, ctypes.POINTER(c_size_t)]),
        "hwspec_report_capability": (
            c_int,
            [c_void_p, c_size_t, ctypes.POINTER(c_char_p), ctypes.POINTER(c_char_p)],
        ),
        "hwspec_report_has": (
            c_int,
            [c_void_p, c_char_p, c_char_p, c_char_p, ctypes.POINTER(c_bool)],
        ),
        "hwspec_check": (c_int, [c_void_p, c_char_p, out_handle]),
        "hwspec_verdict_free": (None, [c_void_p]),
        "hwspec_verdict_satisfied": (c_int, [c_void_p, ctypes.POINTER(c_bool)]),
        "hwspec_verdict_explanation": (c_int, [c_void_p, out_handle]),
        "hwspec_verdict_json": (c_int, [c_void_p, out_handle]),
        "hwspec_package_requirement": (c_int, [c_char_p, c_int, c_char_p, out_handle]),
        "hwspec_string_free": (None, [c_void_p]),
    }
    for name, (restype, argtypes) in signatures.items():
        function = getattr(lib, name)
        function.restype = restype
        function.argtypes = argtypes
    return lib


_lib = _load()


def _check(code):
    """Raises the Error for a non-OK result; reads the message at once, on the calling thread,
    because the next hwspec call on this thread replaces it."""
    if code != OK:
        message = (_lib.hwspec_last_error() or b"").decode("utf-8", "replace")
        raise _ERROR_CLASSES.get(code, Error)(code, message)


def _encode(text):
    """str to UTF-8 bytes for the library; bytes pass unchanged (the library itself rejects
    invalid UTF-8 with ERR_INVALID); None stays NULL."""
    if text is None or isinstance(text, bytes):
        return text
    return str(text).encode("utf-8", "surrogateescape")


def _take_string(pointer):
    """Copies a string hwspec returned and frees it."""
    try:
        return ctypes.string_at(pointer.value).decode("utf-8", "replace")
    finally:
        _lib.hwspec_string_free(pointer)


class _Handle:
    """Owns one opaque handle and frees it exactly once. After close() the handle is NULL, so
    a use of a closed object reaches the library as NULL and raises NullError."""

    _free_name = ""

    def __init__(self, pointer):
        self._pointer = pointer

    def close(self):
        pointer, self._pointer = self._pointer, None
        if pointer:
            getattr(_lib, self._free_name)(pointer)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        # At interpreter exit the module's globals may already be gone; the process is ending
        # and the memory goes with it.
        try:
            self.close()
        except Exception:
            pass


class Verdict(_Handle):
    """The answer to one requirement expression."""

    _free_name = "hwspec_verdict_free"

    def __init__(self, pointer, report):
        super().__init__(pointer)
        # The report outlives its verdicts, whatever the library allows.
        self._report = report

    @property
    def satisfied(self):
        out = ctypes.c_bool()
        _check(_lib.hwspec_verdict_satisfied(self._pointer, ctypes.byref(out)))
        return out.value

    @property
    def explanation(self):
        """The ``hwspec check --explain`` text, clause by clause."""
        out = ctypes.c_void_p()
        _check(_lib.hwspec_verdict_explanation(self._pointer, ctypes.byref(out)))
        return _take_string(out)

    def json(self):
        out = ctypes.c_void_p()
        _check(_lib.hwspec_verdict_json(self._pointer, ctypes.byref(out)))
        return _json.loads(_take_string(out))

    def __bool__(self):
        return self.satisfied

    def __repr__(self):
        return "<hwspec.Verdict %s>" % ("closed" if self._pointer is None else self.satisfied)


class Report(_Handle):
    """One probe's result: the capability set and everything found (see json())."""

    _free_name = "hwspec_report_free"

    @property
    def capabilities(self):
        """[(name, version or None), ...] in the report's order."""
        count = ctypes.c_size_t()
        _check(_lib.hwspec_report_capability_count(self._pointer, ctypes.byref(count)))
        result = []
        for index in range(count.value):
            name, version = ctypes.c_char_p(), ctypes.c_char_p()
            _check(
                _lib.hwspec_report_capability(
                    self._pointer, index, ctypes.byref(name), ctypes.byref(version)
                )
            )
            result.append(
                (name.value.decode("utf-8"), None if version.value is None else version.value.decode("utf-8"))
            )
        return result

    def has(self, name, op=None, version=None):
        """Whether capability ``name`` is present, and with ``op`` and ``version`` (e.g. ">=",
        "1.2") whether some value satisfies them under Debian version comparison."""
        out = ctypes.c_bool()
        _check(
            _lib.hwspec_report_has(
                self._pointer, _encode(name), _encode(op), _encode(version), ctypes.byref(out)
            )
        )
        return out.value

    def json(self):
        """The report as ``hwspec probe --json`` prints it, parsed (docs/report.md: schema 2,
        each device's ``validations`` a list of {"kind", "passed", "elapsed_ms", ...})."""
        out = ctypes.c_void_p()
        _check(_lib.hwspec_report_json(self._pointer, ctypes.byref(out)))
        return _json.loads(_take_string(out))

    def check(self, expression):
        """Evaluates a requirement expression (X-Requires-Hwspec syntax) against this report."""
        out = ctypes.c_void_p()
        _check(_lib.hwspec_check(self._pointer, _encode(expression), ctypes.byref(out)))
        return Verdict(out, self)

    def __repr__(self):
        if self._pointer is None:
            return "<hwspec.Report closed>"
        return "<hwspec.Report %s>" % ", ".join(n for n, _ in self.capabilities)


def version():
    """The library's version, e.g. "0.1.0"."""
    return _lib.hwspec_version().decode("ascii")


def probe(backends=None, level="standard", timeout=None, use_cache=True, worker=None):
    """Probes this machine (or answers from the report cache while it is still true).

    backends: "cpu,opencl" or an iterable of names; None for all. level: "quick", "standard"
    or "full". timeout: each backend's total deadline in seconds (None: the library's 60 s).
    use_cache: False probes now (the new report is still cached). worker: the absolute path of
    the worker executable (None: $HWSPEC_WORKER, which root ignores, else the path built in).
    HWSPEC_OVERRIDE_* variables of this process apply, as in the CLI.
    """
    options = ctypes.c_void_p()
    _check(_lib.hwspec_options_new(ctypes.byref(options)))
    try:
        if backends is not None:
            if not isinstance(backends, (str, bytes)):
                backends = ",".join(backends)
            _check(_lib.hwspec_options_set_backends(options, _encode(backends)))
        _check(_lib.hwspec_options_set_level(options, _encode(level)))
        if timeout is not None:
            milliseconds = int(round(timeout * 1000))
            if not 0 < milliseconds <= 0xFFFFFFFF:
                raise InvalidError(ERR_INVALID, "timeout must be between 1 ms and 49 days: %r" % timeout)
            _check(_lib.hwspec_options_set_timeout_ms(options, milliseconds))
        _check(_lib.hwspec_options_set_use_cache(options, bool(use_cache)))
        if worker is not None:
            _check(_lib.hwspec_options_set_worker(options, os.fsencode(worker)))
        report = ctypes.c_void_p()
        _check(_lib.hwspec_probe(options, ctypes.byref(report)))
        return Report(report)
    finally:
        _lib.hwspec_options_free(options)


def package_requirement(path, kind="control", package=None):
    """X-Requires-Hwspec of a package file: kind "control" (debian/control: every stanza, or
    the source stanza and binary ``package``, joined with ", "), "dsc" or "deb". "" means cpu."""
    if kind not in _PACKAGE_KINDS:
        raise InvalidError(ERR_INVALID, "kind must be one of %s, not %r" % (", ".join(_PACKAGE_KINDS), kind))
    out = ctypes.c_void_p()
    _check(
        _lib.hwspec_package_requirement(
            os.fsencode(path), _PACKAGE_KINDS[kind], _encode(package), ctypes.byref(out)
        )
    )
    return _take_string(out)
