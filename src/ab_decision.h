/*-------------------------------------------------------------------------
 *
 * ab_decision.h
 *	  The decision rule of A/B tests of prompt and enhancement versions,
 *	  and the sentence that records it.  Plain C (no PostgreSQL headers),
 *	  unit-tested alone (test/unit/test_ab_decision.c).
 *
 * A test compares a proportion between two arms: the success rate for
 * prompt versions (higher is better), the share of work orders in which
 * the targeted error code occurs for enhancements (lower is better).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AP_AB_DECISION_H
#define AP_AB_DECISION_H

#include <stddef.h>
#include <stdint.h>

#include "stats.h"

/* A test is extended at most to this many times its sample size per arm. */
#define AB_MAX_CHECKPOINT 4

/* What one arm (or the watch after a promotion) has seen. */
typedef struct AbArm
{
	int64_t		events;			/* successes, or work orders with the code */
	int64_t		work_orders;
} AbArm;

typedef enum AbVerdict
{
	AB_CONTINUE,				/* better but not significant yet: extend */
	AB_PROMOTE,					/* significantly better */
	AB_REJECT,					/* not better, or not significant at the end */
	AB_WATCH_PASSED,			/* after promotion: not significantly worse */
	AB_WATCH_ROLL_BACK			/* after promotion: significantly worse */
} AbVerdict;

typedef struct AbDecision
{
	AbVerdict	verdict;
	double		p_value;
	double		first_rate;		/* candidate (or watched version) */
	double		second_rate;	/* incumbent's arm in the test */
	StatsInterval first_interval;
	StatsInterval second_interval;
} AbDecision;

/*
 * Decide a test at a checkpoint (both arms have at least checkpoint x
 * sample size work orders): reject when the candidate's point estimate is
 * not better; promote when the one-sided two-proportion test gives
 * p < alpha; otherwise continue, or reject at AB_MAX_CHECKPOINT.
 */
extern AbDecision ab_decide(AbArm candidate, AbArm incumbent,
							int lower_is_better, double alpha, int checkpoint);

/*
 * Decide the end of the watch after a promotion: roll back when the
 * promoted version did significantly worse (p < alpha, one-sided) than
 * the incumbent's arm did in the test.
 */
extern AbDecision ab_decide_watch(AbArm watched, AbArm incumbent,
								  int lower_is_better, double alpha);

/*
 * The sentence recorded in ab_tests.decision_reason: the verdict, both
 * arms' counts, rates and Wilson 95% intervals, what is measured and the
 * p-value against alpha.  measure is e.g. "success rate" or "share of work
 * orders with TS2345".  Returns what snprintf returns.
 */
extern int	ab_format_reason(char *buffer, size_t size,
							 const AbDecision *decision,
							 AbArm first, AbArm second,
							 const char *measure, int lower_is_better,
							 double alpha, int checkpoint, int64_t sample_size);

#endif							/* AP_AB_DECISION_H */
