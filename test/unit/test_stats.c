/*
 * Unit tests of src/stats.c (TAP output).  Reference values were computed
 * independently from the textbook formulas (Wilson 1927; pooled
 * two-proportion z-test; Wald 1945).
 */
#include <math.h>
#include <stdio.h>

#include "stats.h"

static int	test_number = 0;
static int	failures = 0;

static void
ok(int condition, const char *name)
{
	test_number++;
	if (!condition)
		failures++;
	printf("%sok %d - %s\n", condition ? "" : "not ", test_number, name);
}

static int
close_to(double a, double b, double tolerance)
{
	return fabs(a - b) <= tolerance;
}

int
main(void)
{
	StatsInterval interval;
	StatsSprt	sprt;
	int			n;
	int			s;
	int			crossed_at = -1;

	printf("1..19\n");

	interval = stats_wilson(21, 30, STATS_Z95);
	ok(close_to(interval.lower, 0.5212421254, 1e-9), "Wilson lower bound of 21/30");
	ok(close_to(interval.upper, 0.8333525173, 1e-9), "Wilson upper bound of 21/30");
	ok(interval.lower < 0.7, "21/30 clears 0.7 by point estimate but not by Wilson bound");
	interval = stats_wilson(0, 10, STATS_Z95);
	ok(interval.lower == 0.0 && close_to(interval.upper, 0.2775327999, 1e-9),
	   "Wilson interval of 0/10");
	interval = stats_wilson(10, 10, STATS_Z95);
	ok(close_to(interval.lower, 0.7224672001, 1e-9) && interval.upper <= 1.0,
	   "Wilson interval of 10/10");
	interval = stats_wilson(0, 0, STATS_Z95);
	ok(interval.lower == 0.0 && interval.upper == 1.0, "Wilson interval of no data is [0, 1]");

	ok(close_to(stats_two_proportion_p(27, 30, 18, 30), 0.0036451790, 1e-9),
	   "two-proportion p-value, 27/30 vs 18/30");
	ok(close_to(stats_two_proportion_p(18, 30, 27, 30), 0.9963548210, 1e-9),
	   "two-proportion p-value is one-sided");
	ok(close_to(stats_two_proportion_p(15, 30, 15, 30), 0.5, 1e-12),
	   "equal rates give p = 0.5");
	ok(stats_two_proportion_p(30, 30, 30, 30) == 1.0, "no variance gives p = 1");
	ok(stats_two_proportion_p(1, 0, 1, 1) == 1.0, "an empty arm gives p = 1");
	ok(close_to(stats_normal_upper_tail(1.6448536270), 0.05, 1e-9), "normal upper tail at 1.645");

	ok(stats_sprt_init(&sprt, 0.7, 0.1, 0.05, 0.2) == 0, "SPRT of 0.6 against 0.8 sets up");
	ok(close_to(sprt.log_a, 2.7725887222, 1e-9) && close_to(sprt.log_b, -1.5581446180, 1e-9),
	   "SPRT boundaries log(16) and log(0.2/0.95)");
	ok(stats_sprt_init(&sprt, 0.95, 0.1, 0.05, 0.2) == -1, "SPRT refuses p1 >= 1");
	stats_sprt_init(&sprt, 0.7, 0.1, 0.05, 0.2);
	ok(close_to(stats_sprt_llr(&sprt, 3, 4), 3 * log(0.8 / 0.6) + log(0.2 / 0.4), 1e-12),
	   "SPRT log-likelihood ratio");

	/* All successes: the upper boundary is crossed at the first n with n*log(4/3) >= log 16. */
	for (n = 1, s = 1; n <= 60; n++, s++)
	{
		if (stats_sprt_decide(&sprt, s, n, 60) != STATS_SPRT_CONTINUE)
		{
			crossed_at = n;
			break;
		}
	}
	ok(crossed_at == (int) ceil(log(16.0) / log(0.8 / 0.6)), "all successes promote as soon as the boundary is crossed");
	ok(stats_sprt_decide(&sprt, 0, 3, 60) == STATS_SPRT_ACCEPT_H0, "three failures reject");
	ok(stats_sprt_decide(&sprt, 43, 60, 60) == STATS_SPRT_ACCEPT_H1 &&
	   stats_sprt_decide(&sprt, 42, 60, 60) == STATS_SPRT_ACCEPT_H0 &&
	   stats_sprt_decide(&sprt, 42, 59, 60) == STATS_SPRT_CONTINUE,
	   "truncation decides by the sign of the log-likelihood ratio");

	return failures == 0 ? 0 : 1;
}
