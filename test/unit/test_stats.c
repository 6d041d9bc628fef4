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

	tap_plan(59);

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

	/*
	 * Group-sequential boundaries, K = 4 equally spaced looks, one-sided
	 * alpha 0.025: textbook constants (Pocock's and O'Brien and Fleming's
	 * tests in Jennison and Turnbull, Group Sequential Methods, ch. 2;
	 * Lan-DeMets O'Brien-Fleming-type values as tabulated by the ldbounds
	 * and gsDesign packages).
	 */
	{
		double		t[4] = {0.25, 0.5, 0.75, 1.0};
		double		pocock[4] = {2.361, 2.361, 2.361, 2.361};
		double		obrien_fleming[4] = {4.049, 2.863, 2.337, 2.024};
		double		lan_demets_obf[4] = {4.3326, 2.9631, 2.3590, 2.0141};
		double		b[4];
		double		crossing[4];
		double		one[1] = {1.0};
		double		low;
		double		high;
		int			i;

		ok(close_to(stats_normal_upper_quantile(0.025), 1.959964, 1e-6) &&
		   close_to(stats_normal_upper_quantile(0.5), 0.0, 1e-9) &&
		   close_to(stats_normal_upper_quantile(0.95), -1.644854, 1e-6),
		   "normal quantiles");
		ok(close_to(stats_gs_crossing(t, pocock, 4, crossing), 0.025, 2e-4),
		   "Pocock's constant 2.361 spends 0.025 over four looks");
		ok(close_to(stats_gs_crossing(t, obrien_fleming, 4, crossing), 0.025, 2e-4),
		   "O'Brien-Fleming 4.049/2.863/2.337/2.024 spend 0.025 over four looks");
		ok(close_to(crossing[0], stats_normal_upper_tail(4.049), 1e-12),
		   "the first look's crossing is the normal tail");

		/* Solve the Pocock constant by bisection on the recursion. */
		low = 1.0;
		high = 4.0;
		for (i = 0; i < 60; i++)
		{
			double		c = 0.5 * (low + high);
			double		flat[4] = {c, c, c, c};

			if (stats_gs_crossing(t, flat, 4, crossing) > 0.025)
				low = c;
			else
				high = c;
		}
		ok(close_to(low, 2.361, 1e-3), "the Pocock constant for K = 4 is 2.361");

		ok(stats_gs_boundaries(STATS_SPENDING_OBRIEN_FLEMING, 0.025, t, 4, b) == 0 &&
		   close_to(b[0], lan_demets_obf[0], 2e-3) &&
		   close_to(b[1], lan_demets_obf[1], 2e-3) &&
		   close_to(b[2], lan_demets_obf[2], 2e-3) &&
		   close_to(b[3], lan_demets_obf[3], 2e-3),
		   "Lan-DeMets O'Brien-Fleming-type boundaries 4.333/2.963/2.359/2.014");
		ok(close_to(stats_gs_crossing(t, b, 4, crossing), 0.025, 1e-6) &&
		   close_to(crossing[0] + crossing[1],
					stats_spending(STATS_SPENDING_OBRIEN_FLEMING, 0.025, 0.5), 1e-6),
		   "they spend alpha(t) by each look");
		ok(stats_gs_boundaries(STATS_SPENDING_POCOCK, 0.025, t, 4, b) == 0 &&
		   close_to(b[0], stats_normal_upper_quantile(0.025 * log(1.0 + (exp(1.0) - 1.0) * 0.25)), 1e-6) &&
		   close_to(b[0], 2.368, 1e-3) &&
		   b[1] < b[0] && b[3] < b[2] && close_to(b[3], 2.350, 2e-3),
		   "Lan-DeMets Pocock-type boundaries: 2.368 at the first look, nearly flat");
		ok(close_to(stats_gs_crossing(t, b, 4, crossing), 0.025, 1e-6),
		   "Pocock-type boundaries spend 0.025 in all");
		ok(stats_gs_boundaries(STATS_SPENDING_OBRIEN_FLEMING, 0.05, one, 1, b) == 0 &&
		   close_to(b[0], 1.644854, 1e-6), "one look is the fixed-sample test");
		ok(stats_gs_boundaries(STATS_SPENDING_POCOCK, 0.05, obrien_fleming, 4, b) == -1 &&
		   stats_gs_boundaries(STATS_SPENDING_POCOCK, 0.0, t, 4, b) == -1,
		   "invalid fractions or alpha are refused");
	}

	/*
	 * The watch after a threshold promotion: bar 0.7, 30 work orders,
	 * SPRT of 0.75 against 0.55 (alpha 0.05, beta 0.2), final count
	 * calibrated exactly.  Expected values computed independently (dynamic
	 * programming in bench/decision_quality.py): largest final count 17,
	 * rollback probability 0.0373 at 0.75, 0.1168 at 0.70, 0.6794 at 0.55.
	 */
	{
		StatsWatch	watch;
		double		expected;

		ok(stats_watch_init(&watch, 0.75, 0.55, 0.05, 0.2, 30) == 0 &&
		   watch.final_max_successes == 17 &&
		   close_to(watch.error_at_good, 0.0373, 1e-4),
		   "the watch rolls back at the end with at most 17 of 30 successes");
		ok(close_to(stats_watch_rollback_probability(&watch, 0.75, &expected), 0.0373, 1e-4),
		   "false rollback 3.7% when the rate is 5 points above the bar");
		ok(close_to(stats_watch_rollback_probability(&watch, 0.70, &expected), 0.1168, 1e-4),
		   "11.7% exactly at the bar");
		ok(close_to(stats_watch_rollback_probability(&watch, 0.55, &expected), 0.6794, 1e-4) &&
		   close_to(expected, 21.7, 0.05),
		   "detection 67.9% 15 points below, after 21.7 work orders on average");
		ok(stats_watch_decide(&watch, 0, 4) == STATS_WATCH_CONTINUE &&
		   stats_watch_decide(&watch, 0, 5) == STATS_WATCH_ROLL_BACK_EARLY &&
		   stats_watch_decide(&watch, 1, 6) == STATS_WATCH_CONTINUE &&
		   stats_watch_decide(&watch, 1, 7) == STATS_WATCH_ROLL_BACK_EARLY,
		   "early rollback at five straight failures, or six of seven");
		ok(stats_watch_decide(&watch, 17, 30) == STATS_WATCH_ROLL_BACK_FINAL &&
		   stats_watch_decide(&watch, 18, 30) == STATS_WATCH_KEEP &&
		   stats_watch_decide(&watch, 17, 29) == STATS_WATCH_CONTINUE,
		   "at the end: 17/30 rolls back, 18/30 is kept");
		ok(close_to(stats_watch_llr(&watch, 1, 2), log(0.55 / 0.75) + log(0.45 / 0.25), 1e-12),
		   "log-likelihood ratio of the bad rate over the good");
		ok(stats_watch_init(&watch, 0.75, 0.55, 0.05, 0.2, 40) == 0 &&
		   close_to(stats_watch_rollback_probability(&watch, 0.55, &expected), 0.8127, 1e-3) &&
		   stats_watch_rollback_probability(&watch, 0.75, &expected) <= 0.05,
		   "with 40 work orders both targets hold");
		ok(stats_watch_init(&watch, 0.55, 0.75, 0.05, 0.2, 30) == -1 &&
		   stats_watch_init(&watch, 1.0, 0.55, 0.05, 0.2, 30) == -1 &&
		   stats_watch_init(&watch, 0.75, 0.55, 0.05, 0.2, 0) == -1,
		   "invalid watch parameters are refused");
	}

	return tap_exit_status();
}
