"""Tests of the hwspec Python bindings against the real libhwspec and this machine's PoCL and
lavapipe (software OpenCL and Vulkan devices).

Run by hwspec-ffi/tests/run-c-tests.sh as
``HWSPEC_LIBRARY=$PREFIX/lib/libhwspec.so.0 python3 -m unittest discover -s python/tests -v``,
and against the python3-hwspec package with ``HWSPEC_TEST_INSTALLED`` set instead.
"""

import gc
import os
import sys
import tempfile
import threading
import unittest

# HWSPEC_TEST_INSTALLED names the directory the python3-hwspec package installs into: test the
# module found there, not this checkout's.
INSTALLED = os.environ.get("HWSPEC_TEST_INSTALLED")
if not INSTALLED:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

import hwspec  # noqa: E402  (after the path is set)

CONTROL = """\
Source: foo
Maintainer: Someone <someone@example.org>
X-Requires-Hwspec: opencl (>= 1.2)

Package: foo-bin
Architecture: any
XB-Requires-Hwspec: vulkan

Package: foo-doc
Architecture: all
"""


class HwspecTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # One probe for the read-only tests; the cache answers it after the first run.
        cls.report = hwspec.probe(backends="cpu,opencl,vulkan")

    @classmethod
    def tearDownClass(cls):
        cls.report.close()

    @unittest.skipUnless(INSTALLED, "testing this checkout's module")
    def test_the_installed_module_is_tested(self):
        self.assertEqual(os.path.dirname(os.path.dirname(hwspec.__file__)), INSTALLED)

    def test_version(self):
        version = hwspec.version()
        self.assertRegex(version, r"^\d+\.\d+\.\d+")
        expected = os.environ.get("HWSPEC_EXPECTED_VERSION")
        if expected:
            self.assertEqual(version, expected)

    def test_capabilities_include_opencl_and_vulkan(self):
        capabilities = self.report.capabilities
        names = [name for name, _ in capabilities]
        self.assertIn("opencl", names)
        self.assertIn("vulkan", names)
        self.assertIn(("cpu", None), capabilities)
        self.assertIsNotNone(dict(capabilities)["opencl"], "opencl carries its version")

    def test_has(self):
        self.assertTrue(self.report.has("opencl"))
        self.assertTrue(self.report.has("opencl", ">=", "1.2"))
        self.assertFalse(self.report.has("opencl", ">>", "99"))
        self.assertFalse(self.report.has("opencl-gpu"))
        self.assertTrue(self.report.has("vulkan", ">=", "1.0"))
        with self.assertRaises(hwspec.InvalidError):
            self.report.has("opencl", "~=", "1.2")

    def test_check_satisfied_with_explanation(self):
        with self.report.check("opencl (>= 1.2), vulkan") as verdict:
            self.assertTrue(verdict.satisfied)
            self.assertTrue(verdict)
            explanation = verdict.explanation
            self.assertIn("opencl (>= 1.2)", explanation)
            self.assertIn("vulkan", explanation)
            self.assertIsInstance(verdict.json(), dict)

    def test_check_not_satisfied_says_why(self):
        verdict = self.report.check("cuda (>= 12.0)")
        self.assertFalse(verdict.satisfied)
        self.assertIn("cuda", verdict.explanation)
        verdict.close()

    def test_report_json(self):
        data = self.report.json()
        self.assertIsInstance(data, dict)
        self.assertEqual(data["schema"], 2)
        names = [entry["name"] for entry in data["capabilities"]]
        self.assertIn("opencl", names)
        self.assertEqual(names, [name for name, _ in self.report.capabilities])

    def test_validated_devices_list_their_validations_by_kind(self):
        kinds = {}
        for backend in self.report.json()["backends"]:
            for device in backend["devices"]:
                if device["status"] != "validated":
                    continue
                self.assertTrue(device["validations"], device)
                for validation in device["validations"]:
                    self.assertTrue(validation["passed"], validation)
                    self.assertIsInstance(validation["elapsed_ms"], float)
                kinds[backend["name"]] = [v["kind"] for v in device["validations"]]
        # Level standard: SAXPY on the CPU, PoCL and lavapipe, compared with the CPU reference.
        self.assertEqual(kinds, {"cpu": ["saxpy"], "opencl": ["saxpy"], "vulkan": ["saxpy"]})

    def test_parse_error_names_the_column(self):
        with self.assertRaises(hwspec.ParseError) as caught:
            self.report.check("opencl (>= ")
        self.assertEqual(caught.exception.code, hwspec.ERR_PARSE)
        self.assertIn("column 12", str(caught.exception))
        self.assertIsInstance(caught.exception, hwspec.Error)

    def test_invalid_arguments(self):
        with self.assertRaises(hwspec.InvalidError):
            hwspec.probe(backends="cpu,nosuch")
        with self.assertRaises(hwspec.InvalidError):
            hwspec.probe(backends="cpu", level="fast")
        with self.assertRaises(hwspec.InvalidError) as caught:
            self.report.check(b"opencl\xff")  # invalid UTF-8 reaches the library as is
        self.assertEqual(caught.exception.code, hwspec.ERR_INVALID)

    def test_package_requirement(self):
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "control")
            with open(path, "w", encoding="utf-8") as control:
                control.write(CONTROL)
            self.assertEqual(hwspec.package_requirement(path), "opencl (>= 1.2), vulkan")
            self.assertEqual(
                hwspec.package_requirement(path, package="foo-doc"), "opencl (>= 1.2)"
            )
            requirement = hwspec.package_requirement(path)
            self.assertTrue(self.report.check(requirement).satisfied)
            with self.assertRaises(hwspec.ControlError):
                hwspec.package_requirement(os.path.join(directory, "missing"))
            with self.assertRaises(hwspec.InvalidError):
                hwspec.package_requirement(path, kind="rpm")

    def test_closed_objects_raise_instead_of_crashing(self):
        report = hwspec.probe(backends="cpu")
        verdict = report.check("cpu")
        report.close()
        report.close()  # twice is fine
        with self.assertRaises(hwspec.NullError):
            report.capabilities
        with self.assertRaises(hwspec.NullError):
            report.has("cpu")
        with self.assertRaises(hwspec.NullError):
            report.check("cpu")
        with self.assertRaises(hwspec.NullError):
            report.json()
        self.assertTrue(verdict.satisfied, "a verdict outlives its closed report")
        verdict.close()
        with self.assertRaises(hwspec.NullError):
            verdict.satisfied
        with self.assertRaises(hwspec.NullError):
            verdict.explanation

    def test_objects_are_freed_by_the_garbage_collector(self):
        for _ in range(50):
            self.report.check("opencl | cpu")
            hwspec.probe(backends="cpu")
        gc.collect()

    def test_override_from_environment(self):
        os.environ["HWSPEC_OVERRIDE_CUDA"] = "12.4"
        try:
            with hwspec.probe(backends="cpu") as report:
                self.assertTrue(report.has("cuda", ">=", "12.0"))
            os.environ["HWSPEC_OVERRIDE_CUDA"] = "not a version"
            with self.assertRaises(hwspec.OverrideError):
                hwspec.probe(backends="cpu")
        finally:
            del os.environ["HWSPEC_OVERRIDE_CUDA"]

    def test_threads_share_a_report(self):
        errors = []

        def work():
            try:
                for _ in range(20):
                    if not self.report.check("opencl (>= 1.2)").satisfied:
                        errors.append("opencl not satisfied")
                    try:
                        self.report.check("vulkan (>= ")
                        errors.append("no parse error")
                    except hwspec.ParseError as error:
                        if "column" not in error.message:
                            errors.append(error.message)
            except Exception as error:  # reported below, not lost in the thread
                errors.append(repr(error))

        threads = [threading.Thread(target=work) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(errors, [])


if __name__ == "__main__":
    unittest.main()
