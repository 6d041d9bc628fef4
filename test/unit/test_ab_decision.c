/*
 * Unit tests of src/ab_decision.c (TAP output): the A/B decision rule and
 * the sentence recorded with each decision.  p-values are those of the
 * pooled one-sided two-proportion z-test, computed independently.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ab_decision.h"
#include "tap.h"

static AbArm
arm(int64_t events, int64_t work_orders)
{
	AbArm		result;

	result.events = events;
	result.work_orders = work_orders;
	return result;
}

int
main(void)
{
	AbDecision	d;
	char		reason[1024];

	tap_plan(37);

	/* An enhancement that lowers its code's rate from 40% to 10%. */
	d = ab_decide(arm(3, 30), arm(12, 30), 1, AB_RULE_FIXED_ALPHA, 0.05, 1);
	ok(d.verdict == AB_PROMOTE, "40% -> 10% at 30 per arm is promoted");
	ok(close_to(d.p_value, 0.0036451790, 1e-9), "its one-sided p-value");
	ok(close_to(d.first_rate, 0.1, 1e-12) && close_to(d.second_rate, 0.4, 1e-12),
	   "the rates of both arms");
	ok(d.first_interval.lower > 0.0 && d.first_interval.upper < d.second_interval.upper,
	   "Wilson intervals of both arms");

	/* One that raises it. */
	d = ab_decide(arm(18, 30), arm(12, 30), 1, AB_RULE_FIXED_ALPHA, 0.05, 1);
	ok(d.verdict == AB_REJECT, "40% -> 60% is rejected");
	ok(d.p_value > 0.5, "the p-value of a worse candidate is above 0.5");

	/* Equal rates are not better. */
	d = ab_decide(arm(12, 30), arm(12, 30), 1, AB_RULE_FIXED_ALPHA, 0.05, 1);
	ok(d.verdict == AB_REJECT, "an equal rate is rejected");

	/* A small improvement: extended, then rejected at 4x. */
	d = ab_decide(arm(10, 30), arm(12, 30), 1, AB_RULE_FIXED_ALPHA, 0.05, 1);
	ok(d.verdict == AB_CONTINUE, "40% -> 33% at 30 per arm is extended");
	ok(close_to(d.p_value, 0.2958, 1e-3), "its p-value is about 0.30");
	d = ab_decide(arm(20, 60), arm(24, 60), 1, AB_RULE_FIXED_ALPHA, 0.05, 2);
	ok(d.verdict == AB_CONTINUE, "still extended at 2x");
	d = ab_decide(arm(40, 120), arm(48, 120), 1, AB_RULE_FIXED_ALPHA, 0.05, AB_MAX_CHECKPOINT);
	ok(d.verdict == AB_REJECT, "rejected when still not significant at 4x");
	d = ab_decide(arm(70, 240), arm(96, 240), 1, AB_RULE_FIXED_ALPHA, 0.05, AB_MAX_CHECKPOINT);
	ok(d.verdict == AB_PROMOTE, "but promoted at 4x when significant by then");

	/* Prompt versions: success rate, higher is better. */
	d = ab_decide(arm(27, 30), arm(18, 30), 0, AB_RULE_FIXED_ALPHA, 0.05, 1);
	ok(d.verdict == AB_PROMOTE && close_to(d.p_value, 0.0036451790, 1e-9),
	   "a prompt version with 90% vs 60% successes is promoted");
	d = ab_decide(arm(18, 30), arm(27, 30), 0, AB_RULE_FIXED_ALPHA, 0.05, 1);
	ok(d.verdict == AB_REJECT, "a prompt version with fewer successes is rejected");
	d = ab_decide(arm(3, 30), arm(12, 30), 0, AB_RULE_FIXED_ALPHA, 0.05, 1);
	ok(d.verdict == AB_REJECT, "direction matters: fewer events is worse for success rates");

	/* The watch after a promotion. */
	d = ab_decide_watch(arm(24, 30), arm(12, 30), 1, AB_WATCH_RULE_FIXED_ALPHA, 0.05, 30, 1);
	ok(d.verdict == AB_WATCH_ROLL_BACK, "a promoted enhancement at 80% vs 40% is rolled back");
	d = ab_decide_watch(arm(13, 30), arm(12, 30), 1, AB_WATCH_RULE_FIXED_ALPHA, 0.05, 30, 1);
	ok(d.verdict == AB_WATCH_PASSED, "one slightly worse but not significantly is kept");
	d = ab_decide_watch(arm(3, 30), arm(12, 30), 1, AB_WATCH_RULE_FIXED_ALPHA, 0.05, 30, 1);
	ok(d.verdict == AB_WATCH_PASSED && d.p_value > 0.5, "one that stays better is kept");

	/* The recorded sentence. */
	d = ab_decide(arm(3, 30), arm(12, 30), 1, AB_RULE_FIXED_ALPHA, 0.05, 1);
	ab_format_reason(reason, sizeof(reason), &d, arm(3, 30), arm(12, 30),
					 "share of work orders with TS2345", 1, 0.05, 1, 30);
	ok(strstr(reason, "promoted") == reason &&
	   strstr(reason, "candidate 3/30 = 0.100 (95% CI 0.035-0.256)") != NULL &&
	   strstr(reason, "incumbent 12/30 = 0.400 (95% CI 0.246-0.577)") != NULL &&
	   strstr(reason, "p = 0.0036 < alpha 0.05") != NULL &&
	   strstr(reason, "(lower is better)") != NULL,
	   "the reason has both arms, their intervals and the p-value");
	d = ab_decide(arm(10, 30), arm(12, 30), 1, AB_RULE_FIXED_ALPHA, 0.05, 1);
	ab_format_reason(reason, sizeof(reason), &d, arm(10, 30), arm(12, 30),
					 "share of work orders with TS2345", 1, 0.05, 1, 30);
	ok(strstr(reason, "extended") == reason &&
	   strstr(reason, "next check at 2 x 30") != NULL,
	   "an extension says when the next check is");

	/*
	 * Group-sequential rule, alpha 0.05 over four looks at 1/4..1:
	 * Lan-DeMets O'Brien-Fleming-type boundaries 3.750, 2.540, 2.016, 1.720.
	 */
	d = ab_decide(arm(27, 30), arm(18, 30), 0, AB_RULE_LAN_DEMETS_OBF, 0.05, 1);
	ok(d.verdict == AB_CONTINUE && d.sequential && d.look == 1 && d.looks == 4 &&
	   close_to(d.boundary_z, 3.7496, 2e-3) &&
	   close_to(d.boundary_p, stats_normal_upper_tail(d.boundary_z), 1e-12),
	   "90% vs 60% at the first look is extended: z 2.68 is below 3.750");
	ok(close_to(d.z, 2.6833, 1e-3) && close_to(d.p_value, 0.0036451790, 1e-9),
	   "z and p of the pooled test");
	d = ab_decide(arm(85, 120), arm(72, 120), 0, AB_RULE_LAN_DEMETS_OBF, 0.05, 4);
	ok(d.verdict == AB_PROMOTE && close_to(d.boundary_z, 1.7202, 2e-3),
	   "85/120 vs 72/120 at the last look is promoted: z 1.764 >= 1.720");
	ab_format_reason(reason, sizeof(reason), &d, arm(85, 120), arm(72, 120),
					 "success rate", 0, 0.05, 4, 30);
	ok(strstr(reason, "promoted") == reason &&
	   strstr(reason, "look 4 of 4, Lan-DeMets O'Brien-Fleming-type spending of alpha 0.05: z = 1.764 >= boundary 1.720") != NULL &&
	   strstr(reason, "nominal 0.0427") != NULL &&
	   strstr(reason, "candidate 85/120 = 0.708") != NULL,
	   "the reason records the look, its boundary and nominal p");
	d = ab_decide(arm(84, 120), arm(72, 120), 0, AB_RULE_LAN_DEMETS_OBF, 0.05, 4);
	ok(d.verdict == AB_REJECT, "84/120 vs 72/120 at the last look is rejected");
	ab_format_reason(reason, sizeof(reason), &d, arm(84, 120), arm(72, 120),
					 "success rate", 0, 0.05, 4, 30);
	ok(strstr(reason, "did not reach the boundary by the largest extension") != NULL,
	   "and says it did not reach the boundary");
	d = ab_decide(arm(18, 30), arm(18, 30), 0, AB_RULE_LAN_DEMETS_POCOCK, 0.05, 1);
	ok(d.verdict == AB_REJECT && close_to(d.boundary_z, 2.0999, 2e-3),
	   "an equal candidate is rejected at the first look (Pocock-type boundary 2.100)");

	/* The sequential watch: looks after 8, 15, 23 and 30 of 30. */
	{
		int			looks;

		ok(ab_watch_look_due(AB_WATCH_RULE_LAN_DEMETS_POCOCK, 0, 8, 30, &looks) == 1 &&
		   looks == 4 &&
		   ab_watch_look_due(AB_WATCH_RULE_LAN_DEMETS_POCOCK, 0, 7, 30, &looks) == 0 &&
		   ab_watch_look_due(AB_WATCH_RULE_LAN_DEMETS_POCOCK, 1, 9, 30, &looks) == 0 &&
		   ab_watch_look_due(AB_WATCH_RULE_LAN_DEMETS_POCOCK, 2, 23, 30, &looks) == 3 &&
		   ab_watch_look_due(AB_WATCH_RULE_LAN_DEMETS_POCOCK, 3, 30, 30, &looks) == 4 &&
		   ab_watch_look_due(AB_WATCH_RULE_FIXED_ALPHA, 0, 29, 30, &looks) == 0 &&
		   ab_watch_look_due(AB_WATCH_RULE_FIXED_ALPHA, 0, 30, 30, &looks) == 1 &&
		   looks == 1,
		   "the watch's looks: the next one is due at its size");
		ok(ab_watch_look_due(AB_WATCH_RULE_LAN_DEMETS_POCOCK, 0, 20, 30, &looks) == 1 &&
		   ab_watch_look_due(AB_WATCH_RULE_LAN_DEMETS_POCOCK, 1, 20, 30, &looks) == 2 &&
		   ab_watch_look_due(AB_WATCH_RULE_LAN_DEMETS_POCOCK, 2, 20, 30, &looks) == 0,
		   "counts past a look (work orders in flight): the looks not yet taken are due one by one");
		ok(ab_watch_look_due(AB_WATCH_RULE_LAN_DEMETS_POCOCK, 4, 45, 30, &looks) == 0 &&
		   ab_watch_look_due(AB_WATCH_RULE_FIXED_ALPHA, 1, 45, 30, &looks) == 0,
		   "no look is due once every look was taken, however many were counted");
		ok(ab_watch_next_look_size(AB_WATCH_RULE_LAN_DEMETS_POCOCK, 0, 30) == 8 &&
		   ab_watch_next_look_size(AB_WATCH_RULE_LAN_DEMETS_POCOCK, 3, 30) == 30 &&
		   ab_watch_next_look_size(AB_WATCH_RULE_LAN_DEMETS_POCOCK, 4, 30) == 0 &&
		   ab_watch_next_look_size(AB_WATCH_RULE_LAN_DEMETS_POCOCK, 1, 2) == 2 &&
		   ab_watch_next_look_size(AB_WATCH_RULE_LAN_DEMETS_POCOCK, 2, 2) == 0 &&
		   ab_watch_next_look_size(AB_WATCH_RULE_FIXED_ALPHA, 0, 30) == 30 &&
		   ab_watch_next_look_size(AB_WATCH_RULE_FIXED_ALPHA, 1, 30) == 0,
		   "the size of the next look, 0 after the last");
		ok(ab_watch_look_due(AB_WATCH_RULE_LAN_DEMETS_POCOCK, 0, 1, 2, &looks) == 1 &&
		   looks == 2 &&
		   ab_watch_look_due(AB_WATCH_RULE_LAN_DEMETS_POCOCK, 1, 1, 2, &looks) == 0 &&
		   ab_watch_look_due(AB_WATCH_RULE_LAN_DEMETS_POCOCK, 1, 2, 2, &looks) == 2,
		   "a watch of two work orders has two looks");
	}
	d = ab_decide_watch(arm(1, 8), arm(60, 80), 0, AB_WATCH_RULE_LAN_DEMETS_POCOCK,
						0.05, 30, 1);
	ok(d.verdict == AB_WATCH_ROLL_BACK && d.look == 1,
	   "a promoted prompt at 1/8 against 60/80 is rolled back at the first look");
	d = ab_decide_watch(arm(20, 30), arm(60, 80), 0, AB_WATCH_RULE_LAN_DEMETS_POCOCK,
						0.05, 30, 4);
	ok(d.verdict == AB_WATCH_PASSED && d.look == 4,
	   "20/30 against 60/80 passes at the last look");
	d = ab_decide_watch(arm(20, 30), arm(60, 80), 0, AB_WATCH_RULE_LAN_DEMETS_POCOCK,
						0.05, 30, 2);
	ok(d.verdict == AB_WATCH_CONTINUE && d.look == 2 && d.looks == 4,
	   "the same counts at an earlier look continue the watch: the look is the one given");
	d = ab_decide_watch(arm(25, 36), arm(60, 80), 0, AB_WATCH_RULE_LAN_DEMETS_POCOCK,
						0.05, 30, 4);
	ok(d.verdict == AB_WATCH_PASSED && d.look == 4,
	   "counts past the end of the watch are decided at the last look");
	d = ab_decide_watch(arm(20, 30), arm(60, 80), 0, AB_WATCH_RULE_LAN_DEMETS_POCOCK,
						0.05, 30, 0);
	ok(d.verdict == AB_WATCH_CONTINUE,
	   "look 0 is not a look");

	return tap_exit_status();
}
