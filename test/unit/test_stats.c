/*
 * Unit tests of src/stats.c (TAP output).  Reference values were computed
 * independently from the textbook formulas (Wilson 1927; pooled
 * two-proportion z-test; Wald 1945).
 */
#include <math.h>
#include <stdio.h>

#include "stats.h"
#include "tap.h"

int
main(void)
{
	StatsInterval interval;
	StatsSprt	sprt;
	StatsRule	rule;
	StatsVerdictReason reason;
	int			n;
	int			s;
	int			crossed_at = -1;

	tap_plan(39);

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

	/* Decision rules of threshold experiments. */
	ok(stats_rule_init(&rule, STATS_RULE_THRESHOLD, 0.7, 30, 0, 0, 0) == 0 &&
	   rule.successes_needed == 21 && rule.max_samples == 30,
	   "threshold rule at 0.7 of 30 needs 21 successes");
	ok(stats_rule_decide(&rule, 21, 30, &reason) == STATS_VERDICT_PROMOTE &&
	   reason == STATS_REASON_SAMPLE_SIZE, "21/30 promotes under the threshold rule");
	ok(stats_rule_decide(&rule, 20, 30, &reason) == STATS_VERDICT_REJECT &&
	   reason == STATS_REASON_SAMPLE_SIZE, "20/30 rejects under the threshold rule");
	ok(stats_rule_decide(&rule, 20, 29, &reason) == STATS_VERDICT_CONTINUE &&
	   reason == STATS_REASON_NONE, "20/29 can still reach 21/30");
	ok(stats_rule_decide(&rule, 0, 9, &reason) == STATS_VERDICT_CONTINUE,
	   "nine failures leave 21 reachable");
	ok(stats_rule_decide(&rule, 0, 10, &reason) == STATS_VERDICT_REJECT &&
	   reason == STATS_REASON_UNREACHABLE, "the tenth failure rejects early");
	ok(stats_rule_decide(&rule, 12, 21, &reason) == STATS_VERDICT_CONTINUE &&
	   stats_rule_decide(&rule, 11, 21, &reason) == STATS_VERDICT_REJECT,
	   "early rejection exactly when successes + remaining < needed");
	ok(stats_rule_decide(&rule, 0, 0, &reason) == STATS_VERDICT_CONTINUE,
	   "no results, no verdict");

	ok(stats_rule_init(&rule, STATS_RULE_THRESHOLD, 0.3, 10, 0, 0, 0) == 0 &&
	   rule.successes_needed == 3, "0.3 of 10 needs 3 (no binary rounding surprise)");
	ok(stats_rule_init(&rule, STATS_RULE_THRESHOLD, 1.0, 30, 0, 0, 0) == 0 &&
	   rule.successes_needed == 30, "confidence 1 needs every result");

	ok(stats_rule_init(&rule, STATS_RULE_WILSON, 0.7, 30, 0, 0, 0) == 0 &&
	   rule.successes_needed == 26, "Wilson rule at 0.7 of 30 needs 26 successes");
	ok(stats_rule_decide(&rule, 21, 30, &reason) == STATS_VERDICT_REJECT,
	   "21/30 fails the Wilson rule");
	ok(stats_rule_decide(&rule, 26, 30, &reason) == STATS_VERDICT_PROMOTE,
	   "26/30 passes the Wilson rule");
	ok(stats_rule_decide(&rule, 0, 4, &reason) == STATS_VERDICT_CONTINUE &&
	   stats_rule_decide(&rule, 0, 5, &reason) == STATS_VERDICT_REJECT &&
	   reason == STATS_REASON_UNREACHABLE, "Wilson rule rejects at the fifth failure");
	ok(stats_rule_init(&rule, STATS_RULE_WILSON, 1.0, 30, 0, 0, 0) == 0 &&
	   rule.successes_needed == 31, "Wilson bound never reaches 1: nothing passes");

	ok(stats_rule_init(&rule, STATS_RULE_SPRT, 0.7, 30, 0.1, 0.05, 0.2) == 0 &&
	   rule.max_samples == 60, "SPRT rule is truncated at twice the sample size");
	ok(stats_rule_decide(&rule, 10, 10, &reason) == STATS_VERDICT_PROMOTE &&
	   reason == STATS_REASON_BOUNDARY &&
	   stats_rule_decide(&rule, 9, 9, &reason) == STATS_VERDICT_CONTINUE,
	   "SPRT promotes at the tenth straight success");
	ok(stats_rule_decide(&rule, 0, 3, &reason) == STATS_VERDICT_REJECT &&
	   reason == STATS_REASON_BOUNDARY, "SPRT rejects at three straight failures");
	ok(stats_rule_decide(&rule, 43, 60, &reason) == STATS_VERDICT_PROMOTE &&
	   reason == STATS_REASON_TRUNCATED &&
	   stats_rule_decide(&rule, 42, 60, &reason) == STATS_VERDICT_REJECT &&
	   reason == STATS_REASON_TRUNCATED, "SPRT truncation by the sign of the LLR");

	ok(stats_rule_init(&rule, STATS_RULE_THRESHOLD, 0.7, 0, 0, 0, 0) == -1 &&
	   stats_rule_init(&rule, STATS_RULE_THRESHOLD, 0.0, 30, 0, 0, 0) == -1 &&
	   stats_rule_init(&rule, STATS_RULE_THRESHOLD, 1.5, 30, 0, 0, 0) == -1 &&
	   stats_rule_init(&rule, STATS_RULE_SPRT, 0.95, 30, 0.1, 0.05, 0.2) == -1,
	   "invalid rule parameters are refused");

	return tap_exit_status();
}
