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

/* The watch after a promotion is looked at this many times (sequential rule). */
#define AB_WATCH_LOOKS 4

/*
 * Rules that decide a test, copied onto ab_tests.decision_rule when it
 * starts:
 *	 fixed_alpha		p < alpha at every checkpoint (before 0.1.0's group-
 *						sequential rule; looking up to four times at alpha
 *						promotes an equal candidate about 11% of the time)
 *	 lan_demets_obf		group-sequential: Lan-DeMets alpha spending with
 *						the O'Brien-Fleming shape over the four checkpoints,
 *						information fractions 1/4, 2/4, 3/4, 1 (default)
 *	 lan_demets_pocock	the same with the Pocock shape
 */
typedef enum AbRule
{
	AB_RULE_FIXED_ALPHA,
	AB_RULE_LAN_DEMETS_OBF,
	AB_RULE_LAN_DEMETS_POCOCK
} AbRule;

/*
 * Rules of the watch after a promotion, copied onto ab_tests.watch_rule:
 *	 fixed_alpha		one test at the end of the watch, p < alpha
 *	 lan_demets_pocock	looks after 1/4, 2/4, 3/4 and all of the watch's
 *						work orders with Lan-DeMets Pocock-shaped spending
 *						of alpha, so a clearly worse version is rolled back
 *						early (default)
 */
typedef enum AbWatchRule
{
	AB_WATCH_RULE_FIXED_ALPHA,
	AB_WATCH_RULE_LAN_DEMETS_POCOCK
} AbWatchRule;

/* Name of a rule as stored on ab_tests rows, and back; -1 when unknown. */
extern const char *ab_rule_name(AbRule rule);
extern int	ab_rule_from_name(const char *name, AbRule *rule);
extern const char *ab_watch_rule_name(AbWatchRule rule);
extern int	ab_watch_rule_from_name(const char *name, AbWatchRule *rule);

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
	AB_WATCH_CONTINUE,			/* after promotion: not a look, or not yet */
	AB_WATCH_PASSED,			/* after promotion: not significantly worse */
	AB_WATCH_ROLL_BACK			/* after promotion: significantly worse */
} AbVerdict;

typedef struct AbDecision
{
	AbVerdict	verdict;
	int			sequential;		/* a group-sequential rule decided */
	StatsSpendingShape shape;	/* its spending shape */
	int			look;			/* 1-based look (checkpoint, or watch look) */
	int			looks;			/* looks planned */
	double		z;				/* one-sided z statistic */
	double		p_value;
	double		boundary_z;		/* the look's boundary on z */
	double		boundary_p;		/* its nominal one-sided p (alpha for fixed) */
	double		first_rate;		/* candidate (or watched version) */
	double		second_rate;	/* incumbent's arm in the test */
	StatsInterval first_interval;
	StatsInterval second_interval;
} AbDecision;

/*
 * Decide a test at a checkpoint (both arms have at least checkpoint x
 * sample size work orders): reject when the candidate's point estimate is
 * not better; promote when the one-sided two-proportion test crosses the
 * checkpoint's boundary under the rule; otherwise continue, or reject at
 * AB_MAX_CHECKPOINT.
 */
extern AbDecision ab_decide(AbArm candidate, AbArm incumbent,
							int lower_is_better, AbRule rule, double alpha,
							int checkpoint);

/*
 * Is the watch's next look due?  looks_taken looks have been taken (the
 * test's watch_looks); the next, look looks_taken + 1, is due once
 * watched >= ceil((looks_taken + 1) x sample_size / AB_WATCH_LOOKS) work
 * orders (distinct sizes only; for fixed_alpha the only look is at
 * sample_size).  Returns that look's number (1-based) when it is due, else
 * 0 (also when every look was taken).  *looks gets the number of distinct
 * looks.  Counting is not stopped at a look, so watched may be past it.
 */
extern int	ab_watch_look_due(AbWatchRule rule, int looks_taken, int64_t watched,
							  int64_t sample_size, int *looks);

/*
 * The watched work orders at which the watch's next look (looks_taken + 1)
 * is due; 0 when every look was taken.
 */
extern int64_t ab_watch_next_look_size(AbWatchRule rule, int looks_taken,
									   int64_t sample_size);

/*
 * Decide the watch after a promotion at look number look (from
 * ab_watch_look_due): roll back when the promoted version did
 * significantly worse (one-sided) than the incumbent's arm did in the
 * test, against the look's boundary; passed at the last look otherwise;
 * AB_WATCH_CONTINUE at an earlier look (and for a look number that is not
 * one).  The incumbent's numbers are fixed during the watch, so
 * successive z statistics are more correlated than the independent
 * increments the boundaries assume: the false-rollback rate is at most
 * alpha (conservative).
 */
extern AbDecision ab_decide_watch(AbArm watched, AbArm incumbent,
								  int lower_is_better, AbWatchRule rule,
								  double alpha, int64_t sample_size, int look);

/*
 * The sentence recorded in ab_tests.decision_reason: the verdict, the
 * look and its boundary, both arms' counts, rates and Wilson 95%
 * intervals, what is measured and the p-value.  measure is e.g. "success
 * rate" or "share of work orders with TS2345".  Returns what snprintf
 * returns.
 */
extern int	ab_format_reason(char *buffer, size_t size,
							 const AbDecision *decision,
							 AbArm first, AbArm second,
							 const char *measure, int lower_is_better,
							 double alpha, int checkpoint, int64_t sample_size);

#endif							/* AP_AB_DECISION_H */
