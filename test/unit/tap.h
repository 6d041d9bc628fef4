/*
 * Minimal TAP output for the C tests (test/unit/, test/sanitizer/):
 *
 *	tap_plan(n);					prints "1..n"
 *	ok(condition, "name");			prints "ok N - name" or "not ok N - name"
 *	ok_detail(condition, "name", detail);	the same, and "# detail" on failure
 *	close_to(a, b, tolerance)		|a - b| <= tolerance
 *	return tap_exit_status();		0 when every test passed, else 1
 *
 * Header only: include it in the one file of a test program.
 */
#ifndef AP_TEST_TAP_H
#define AP_TEST_TAP_H

#include <math.h>
#include <stddef.h>
#include <stdio.h>

static int	tap_test_number = 0;
static int	tap_failures = 0;

static inline void
tap_plan(size_t count)
{
	printf("1..%zu\n", count);
}

/* Returns condition, so that a caller can add diagnostics on failure. */
static inline int
ok_detail(int condition, const char *name, const char *detail)
{
	tap_test_number++;
	printf("%s %d - %s\n", condition ? "ok" : "not ok", tap_test_number, name);
	if (!condition)
	{
		tap_failures++;
		if (detail)
			printf("# %s\n", detail);
	}
	return condition;
}

static inline int
ok(int condition, const char *name)
{
	return ok_detail(condition, name, NULL);
}

static inline int
close_to(double a, double b, double tolerance)
{
	return fabs(a - b) <= tolerance;
}

static inline int
tap_exit_status(void)
{
	return tap_failures == 0 ? 0 : 1;
}

#endif							/* AP_TEST_TAP_H */
