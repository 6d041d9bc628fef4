/*-------------------------------------------------------------------------
 *
 * ab_decision.c
 *	  The decision rule of A/B tests and the sentence that records it.
 *	  Plain C: no PostgreSQL headers.
 *
 *-------------------------------------------------------------------------
 */
#include "ab_decision.h"

#include <stdio.h>

/*
 * events / work_orders, 0 for an empty arm.
 */
static double
arm_rate(AbArm arm)
{
	return arm.work_orders > 0 ? (double) arm.events / (double) arm.work_orders : 0.0;
}

/*
 * One-sided p-value of "first is better than second".
 */
static double
p_first_better(AbArm first, AbArm second, int lower_is_better)
{
	if (lower_is_better)
		return stats_two_proportion_p(second.events, second.work_orders,
									  first.events, first.work_orders);
	return stats_two_proportion_p(first.events, first.work_orders,
								  second.events, second.work_orders);
}

/*
 * Rates and intervals of both arms.
 */
static AbDecision
describe(AbArm first, AbArm second)
{
	AbDecision	decision;

	decision.verdict = AB_CONTINUE;
	decision.p_value = 1.0;
	decision.first_rate = arm_rate(first);
	decision.second_rate = arm_rate(second);
	decision.first_interval = stats_wilson(first.events, first.work_orders, STATS_Z95);
	decision.second_interval = stats_wilson(second.events, second.work_orders, STATS_Z95);
	return decision;
}

/*
 * Decide a test at a checkpoint.
 */
AbDecision
ab_decide(AbArm candidate, AbArm incumbent, int lower_is_better,
		  double alpha, int checkpoint)
{
	AbDecision	decision = describe(candidate, incumbent);
	int			better;

	better = lower_is_better ?
		decision.first_rate < decision.second_rate :
		decision.first_rate > decision.second_rate;
	decision.p_value = p_first_better(candidate, incumbent, lower_is_better);

	if (!better)
		decision.verdict = AB_REJECT;
	else if (decision.p_value < alpha)
		decision.verdict = AB_PROMOTE;
	else if (checkpoint >= AB_MAX_CHECKPOINT)
		decision.verdict = AB_REJECT;
	else
		decision.verdict = AB_CONTINUE;
	return decision;
}

/*
 * Decide the end of the watch: the same test, reversed.
 */
AbDecision
ab_decide_watch(AbArm watched, AbArm incumbent, int lower_is_better,
				double alpha)
{
	AbDecision	decision = describe(watched, incumbent);

	/* p-value of "the incumbent's arm was better than the watch". */
	decision.p_value = p_first_better(incumbent, watched, lower_is_better);
	decision.verdict = decision.p_value < alpha ? AB_WATCH_ROLL_BACK : AB_WATCH_PASSED;
	return decision;
}

/*
 * The sentence recorded with a decision.
 */
int
ab_format_reason(char *buffer, size_t size, const AbDecision *decision,
				 AbArm first, AbArm second, const char *measure,
				 int lower_is_better, double alpha, int checkpoint,
				 int64_t sample_size)
{
	const char *headline;
	const char *comparison;
	const char *first_name = "candidate";
	const char *second_name = "incumbent";
	int			significant = decision->p_value < alpha;
	char		when[96];
	int			better;

	better = lower_is_better ?
		decision->first_rate < decision->second_rate :
		decision->first_rate > decision->second_rate;

	switch (decision->verdict)
	{
		case AB_PROMOTE:
			headline = "promoted: the candidate is significantly better";
			break;
		case AB_REJECT:
			headline = better ?
				"rejected: the candidate is better but not significantly, at the largest extension" :
				"rejected: the candidate is not better";
			break;
		case AB_CONTINUE:
			headline = "extended: the candidate is better but not significantly yet";
			break;
		case AB_WATCH_ROLL_BACK:
			headline = "rolled back: during the watch the promoted version did significantly worse than the incumbent did in the test";
			first_name = "promoted version during the watch";
			second_name = "incumbent in the test";
			break;
		default:
			headline = "watch passed: the promoted version did not do significantly worse than the incumbent did in the test";
			first_name = "promoted version during the watch";
			second_name = "incumbent in the test";
			break;
	}
	comparison = significant ? "<" : ">=";

	if (decision->verdict == AB_WATCH_ROLL_BACK || decision->verdict == AB_WATCH_PASSED)
		snprintf(when, sizeof(when), "watched for %lld work orders",
				 (long long) sample_size);
	else if (decision->verdict == AB_CONTINUE)
		snprintf(when, sizeof(when),
				 "checked at %d x %lld work orders per arm; next check at %d x %lld",
				 checkpoint, (long long) sample_size, checkpoint + 1,
				 (long long) sample_size);
	else
		snprintf(when, sizeof(when), "decided at %d x %lld work orders per arm",
				 checkpoint, (long long) sample_size);

	return snprintf(buffer, size,
					"%s (one-sided p = %.4f %s alpha %g). "
					"%s (%s is better): %s %lld/%lld = %.3f (95%% CI %.3f-%.3f), "
					"%s %lld/%lld = %.3f (95%% CI %.3f-%.3f); %s.",
					headline, decision->p_value, comparison, alpha,
					measure, lower_is_better ? "lower" : "higher",
					first_name, (long long) first.events,
					(long long) first.work_orders, decision->first_rate,
					decision->first_interval.lower, decision->first_interval.upper,
					second_name, (long long) second.events,
					(long long) second.work_orders, decision->second_rate,
					decision->second_interval.lower, decision->second_interval.upper,
					when);
}
