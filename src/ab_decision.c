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
#include <string.h>

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
	decision.sequential = 0;
	decision.shape = STATS_SPENDING_OBRIEN_FLEMING;
	decision.look = 0;
	decision.looks = 0;
	decision.z = 0.0;
	decision.p_value = 1.0;
	decision.boundary_z = 0.0;
	decision.boundary_p = 0.0;
	decision.first_rate = arm_rate(first);
	decision.second_rate = arm_rate(second);
	decision.first_interval = stats_wilson(first.events, first.work_orders, STATS_Z95);
	decision.second_interval = stats_wilson(second.events, second.work_orders, STATS_Z95);
	return decision;
}

/* Names of the rules as stored on ab_tests rows. */
static const char *const rule_names[] = {
	"fixed_alpha", "lan_demets_obf", "lan_demets_pocock"
};
static const char *const watch_rule_names[] = {
	"fixed_alpha", "lan_demets_pocock"
};

const char *
ab_rule_name(AbRule rule)
{
	return rule_names[rule];
}

int
ab_rule_from_name(const char *name, AbRule *rule)
{
	int			i;

	for (i = 0; i < (int) (sizeof(rule_names) / sizeof(rule_names[0])); i++)
	{
		if (strcmp(name, rule_names[i]) == 0)
		{
			*rule = (AbRule) i;
			return 0;
		}
	}
	return -1;
}

const char *
ab_watch_rule_name(AbWatchRule rule)
{
	return watch_rule_names[rule];
}

int
ab_watch_rule_from_name(const char *name, AbWatchRule *rule)
{
	int			i;

	for (i = 0; i < (int) (sizeof(watch_rule_names) / sizeof(watch_rule_names[0])); i++)
	{
		if (strcmp(name, watch_rule_names[i]) == 0)
		{
			*rule = (AbWatchRule) i;
			return 0;
		}
	}
	return -1;
}

/*
 * Boundaries of a spending shape at fractions t[], remembered for the
 * life of the backend (a few shapes, alphas and watch sizes are in use at
 * a time; computing them takes milliseconds).  Returns 0, or -1.
 */
#define AB_BOUNDARY_CACHE_SIZE 8

typedef struct AbBoundaryCacheEntry
{
	int			used;
	StatsSpendingShape shape;
	double		alpha;
	int			looks;
	double		t[STATS_GS_MAX_LOOKS];
	double		b[STATS_GS_MAX_LOOKS];
} AbBoundaryCacheEntry;

static int
ab_boundaries(StatsSpendingShape shape, double alpha, const double *t,
			  int looks, double *b)
{
	static AbBoundaryCacheEntry cache[AB_BOUNDARY_CACHE_SIZE];
	static int	next_slot = 0;
	AbBoundaryCacheEntry *entry;
	int			i;

	for (i = 0; i < AB_BOUNDARY_CACHE_SIZE; i++)
	{
		entry = &cache[i];
		if (entry->used && entry->shape == shape && entry->alpha == alpha &&
			entry->looks == looks &&
			memcmp(entry->t, t, sizeof(double) * (size_t) looks) == 0)
		{
			memcpy(b, entry->b, sizeof(double) * (size_t) looks);
			return 0;
		}
	}
	if (stats_gs_boundaries(shape, alpha, t, looks, b) != 0)
		return -1;
	entry = &cache[next_slot];
	next_slot = (next_slot + 1) % AB_BOUNDARY_CACHE_SIZE;
	entry->used = 1;
	entry->shape = shape;
	entry->alpha = alpha;
	entry->looks = looks;
	memcpy(entry->t, t, sizeof(double) * (size_t) looks);
	memcpy(entry->b, b, sizeof(double) * (size_t) looks);
	return 0;
}

/*
 * The z statistic of "first is better than second" and its p-value.
 */
static void
test_first_better(AbDecision *decision, AbArm first, AbArm second,
				  int lower_is_better)
{
	if (lower_is_better)
		decision->z = stats_two_proportion_z(second.events, second.work_orders,
											 first.events, first.work_orders);
	else
		decision->z = stats_two_proportion_z(first.events, first.work_orders,
											 second.events, second.work_orders);
	decision->p_value = p_first_better(first, second, lower_is_better);
}

/*
 * Fill in the look's boundary: alpha itself for the fixed rules, the
 * Lan-DeMets boundary at fractions t[] for the sequential ones.  Returns
 * whether the statistic reaches it.
 */
static int
reaches_boundary(AbDecision *decision, int sequential, StatsSpendingShape shape,
				 double alpha, const double *t, int looks, int look)
{
	double		b[STATS_GS_MAX_LOOKS];

	decision->sequential = sequential;
	decision->shape = shape;
	decision->look = look;
	decision->looks = looks;
	if (!sequential)
	{
		decision->boundary_p = alpha;
		decision->boundary_z = stats_normal_upper_quantile(alpha);
		return decision->p_value < alpha;
	}
	if (ab_boundaries(shape, alpha, t, looks, b) != 0)
	{
		/* Invalid alpha or fractions: nothing can be significant. */
		decision->boundary_z = STATS_GS_NO_STOP;
		decision->boundary_p = 0.0;
		return 0;
	}
	decision->boundary_z = b[look - 1];
	decision->boundary_p = stats_normal_upper_tail(decision->boundary_z);
	return decision->z >= decision->boundary_z;
}

/*
 * Decide a test at a checkpoint.
 */
AbDecision
ab_decide(AbArm candidate, AbArm incumbent, int lower_is_better, AbRule rule,
		  double alpha, int checkpoint)
{
	AbDecision	decision = describe(candidate, incumbent);
	double		t[AB_MAX_CHECKPOINT];
	int			better;
	int			crossed;
	int			k;

	for (k = 0; k < AB_MAX_CHECKPOINT; k++)
		t[k] = (double) (k + 1) / (double) AB_MAX_CHECKPOINT;
	if (checkpoint < 1)
		checkpoint = 1;
	if (checkpoint > AB_MAX_CHECKPOINT)
		checkpoint = AB_MAX_CHECKPOINT;

	better = lower_is_better ?
		decision.first_rate < decision.second_rate :
		decision.first_rate > decision.second_rate;
	test_first_better(&decision, candidate, incumbent, lower_is_better);
	crossed = reaches_boundary(&decision, rule != AB_RULE_FIXED_ALPHA,
							   rule == AB_RULE_LAN_DEMETS_POCOCK ?
							   STATS_SPENDING_POCOCK : STATS_SPENDING_OBRIEN_FLEMING,
							   alpha, t, AB_MAX_CHECKPOINT, checkpoint);

	if (!better)
		decision.verdict = AB_REJECT;
	else if (crossed)
		decision.verdict = AB_PROMOTE;
	else if (checkpoint >= AB_MAX_CHECKPOINT)
		decision.verdict = AB_REJECT;
	else
		decision.verdict = AB_CONTINUE;
	return decision;
}

/*
 * Work orders watched at look j (1-based) of a watch of sample_size.
 */
static int64_t
watch_look_size(int j, int64_t sample_size)
{
	return ((int64_t) j * sample_size + AB_WATCH_LOOKS - 1) / AB_WATCH_LOOKS;
}

/*
 * Distinct looks of a sequential watch and their fractions.
 */
static int
watch_looks(int64_t sample_size, int64_t *sizes, double *t)
{
	int			looks = 0;
	int			j;

	for (j = 1; j <= AB_WATCH_LOOKS; j++)
	{
		int64_t		size = watch_look_size(j, sample_size);

		if (size < 1 || (looks > 0 && size == sizes[looks - 1]))
			continue;
		sizes[looks] = size;
		t[looks] = (double) size / (double) sample_size;
		looks++;
	}
	return looks;
}

int
ab_watch_look_due(AbWatchRule rule, int looks_taken, int64_t watched,
				  int64_t sample_size, int *looks)
{
	int64_t		sizes[AB_WATCH_LOOKS];
	double		t[AB_WATCH_LOOKS];

	if (rule == AB_WATCH_RULE_FIXED_ALPHA)
	{
		*looks = 1;
		sizes[0] = sample_size;
	}
	else
		*looks = watch_looks(sample_size, sizes, t);
	if (looks_taken < 0 || looks_taken >= *looks)
		return 0;
	return watched >= sizes[looks_taken] ? looks_taken + 1 : 0;
}

int64_t
ab_watch_next_look_size(AbWatchRule rule, int looks_taken, int64_t sample_size)
{
	int64_t		sizes[AB_WATCH_LOOKS];
	double		t[AB_WATCH_LOOKS];
	int			looks;

	if (rule == AB_WATCH_RULE_FIXED_ALPHA)
		return looks_taken == 0 ? sample_size : 0;
	looks = watch_looks(sample_size, sizes, t);
	if (looks_taken < 0 || looks_taken >= looks)
		return 0;
	return sizes[looks_taken];
}

/*
 * Decide the watch at a look: the same test, reversed.
 */
AbDecision
ab_decide_watch(AbArm watched, AbArm incumbent, int lower_is_better,
				AbWatchRule rule, double alpha, int64_t sample_size, int look)
{
	AbDecision	decision = describe(watched, incumbent);
	int64_t		sizes[AB_WATCH_LOOKS];
	double		t[AB_WATCH_LOOKS];
	int			looks;
	int			worse;

	looks = rule == AB_WATCH_RULE_FIXED_ALPHA ? 1 :
		watch_looks(sample_size, sizes, t);
	/* z and p-value of "the incumbent's arm was better than the watch". */
	test_first_better(&decision, incumbent, watched, lower_is_better);
	if (look < 1 || look > looks)
	{
		decision.verdict = AB_WATCH_CONTINUE;
		decision.looks = looks;
		return decision;
	}
	if (rule == AB_WATCH_RULE_FIXED_ALPHA)
		worse = reaches_boundary(&decision, 0, STATS_SPENDING_POCOCK, alpha,
								 NULL, 1, 1);
	else
		worse = reaches_boundary(&decision, 1, STATS_SPENDING_POCOCK, alpha,
								 t, looks, look);
	if (worse)
		decision.verdict = AB_WATCH_ROLL_BACK;
	else if (look >= looks)
		decision.verdict = AB_WATCH_PASSED;
	else
		decision.verdict = AB_WATCH_CONTINUE;
	return decision;
}

/*
 * "(one-sided p = 0.0036 < alpha 0.05)" for the fixed rules; for the
 * sequential ones the look, the shape, z against the boundary and p
 * against the boundary's nominal level.
 */
static void
format_test(char *buffer, size_t size, const AbDecision *decision, double alpha)
{
	int			reached = decision->sequential ?
		decision->z >= decision->boundary_z :
		decision->p_value < alpha;

	if (!decision->sequential)
	{
		snprintf(buffer, size, "one-sided p = %.4f %s alpha %g",
				 decision->p_value, reached ? "<" : ">=", alpha);
		return;
	}
	snprintf(buffer, size,
			 "look %d of %d, Lan-DeMets %s-type spending of alpha %g: "
			 "z = %.3f %s boundary %.3f, one-sided p = %.4f %s nominal %.4f",
			 decision->look, decision->looks,
			 decision->shape == STATS_SPENDING_POCOCK ? "Pocock" : "O'Brien-Fleming",
			 alpha, decision->z, reached ? ">=" : "<", decision->boundary_z,
			 decision->p_value, reached ? "<=" : ">", decision->boundary_p);
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
	const char *first_name = "candidate";
	const char *second_name = "incumbent";
	char		when[128];
	char		test[256];
	int			better;
	int			watch = 0;

	better = lower_is_better ?
		decision->first_rate < decision->second_rate :
		decision->first_rate > decision->second_rate;

	switch (decision->verdict)
	{
		case AB_PROMOTE:
			headline = "promoted: the candidate is significantly better";
			break;
		case AB_REJECT:
			headline = !better ? "rejected: the candidate is not better" :
				decision->sequential ?
				"rejected: the candidate is better but did not reach the boundary by the largest extension" :
				"rejected: the candidate is better but not significantly, at the largest extension";
			break;
		case AB_CONTINUE:
			headline = decision->sequential ?
				"extended: the candidate is better but has not reached the boundary yet" :
				"extended: the candidate is better but not significantly yet";
			break;
		case AB_WATCH_ROLL_BACK:
			headline = "rolled back: during the watch the promoted version did significantly worse than the incumbent did in the test";
			watch = 1;
			break;
		default:
			headline = decision->verdict == AB_WATCH_CONTINUE ?
				"watch continues: the promoted version has not done significantly worse than the incumbent did in the test" :
				"watch passed: the promoted version did not do significantly worse than the incumbent did in the test";
			watch = 1;
			break;
	}
	if (watch)
	{
		first_name = "promoted version during the watch";
		second_name = "incumbent in the test";
	}
	format_test(test, sizeof(test), decision, alpha);

	if (watch)
	{
		if (first.work_orders >= sample_size)
			snprintf(when, sizeof(when), "watched for %lld work orders",
					 (long long) first.work_orders);
		else
			snprintf(when, sizeof(when), "after %lld of the watch's %lld work orders",
					 (long long) first.work_orders, (long long) sample_size);
	}
	else if (decision->verdict == AB_CONTINUE)
		snprintf(when, sizeof(when),
				 "checked at %d x %lld work orders per arm; next check at %d x %lld",
				 checkpoint, (long long) sample_size, checkpoint + 1,
				 (long long) sample_size);
	else
		snprintf(when, sizeof(when), "decided at %d x %lld work orders per arm",
				 checkpoint, (long long) sample_size);

	return snprintf(buffer, size,
					"%s (%s). "
					"%s (%s is better): %s %lld/%lld = %.3f (95%% CI %.3f-%.3f), "
					"%s %lld/%lld = %.3f (95%% CI %.3f-%.3f); %s.",
					headline, test,
					measure, lower_is_better ? "lower" : "higher",
					first_name, (long long) first.events,
					(long long) first.work_orders, decision->first_rate,
					decision->first_interval.lower, decision->first_interval.upper,
					second_name, (long long) second.events,
					(long long) second.work_orders, decision->second_rate,
					decision->second_interval.lower, decision->second_interval.upper,
					when);
}
