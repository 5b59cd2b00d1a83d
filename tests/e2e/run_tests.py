"""Runs every tests/e2e/test_*.py with unittest and prints 'N passed, N failed'."""
import sys
import unittest

suite = unittest.defaultTestLoader.discover(".", pattern="test_*.py")
result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
passed = result.testsRun - failed - len(result.skipped)
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed or result.testsRun == 0 else 0)
