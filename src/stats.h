/*-------------------------------------------------------------------------
 *
 * stats.h
 *	  Statistics for experiment and A/B decisions: Wilson intervals, the
 *	  one-sided two-proportion test, Wald's sequential probability ratio
 *	  test.  Plain C (no PostgreSQL headers), unit-tested alone
 *	  (test/unit/test_stats.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AP_STATS_H
#define AP_STATS_H

#include <stdint.h>

/* z for a two-sided 95% interval. */
#define STATS_Z95 1.959963984540054

typedef struct StatsInterval
{
	double		lower;
	double		upper;
} StatsInterval;

/* Wilson score interval of successes/n at normal quantile z; n = 0 gives [0, 1]. */
extern StatsInterval stats_wilson(int64_t successes, int64_t n, double z);

/* Standard normal upper tail, P(Z > z). */
extern double stats_normal_upper_tail(double z);

/*
 * One-sided two-proportion z-test (pooled) of H1: p_a > p_b.  Returns the
 * p-value P(Z >= z); 1 when either arm is empty or the pooled rate is 0 or 1.
 */
extern double stats_two_proportion_p(int64_t successes_a, int64_t n_a,
									 int64_t successes_b, int64_t n_b);

/* Wald's SPRT of p0 = confidence - delta against p1 = confidence + delta. */
typedef enum StatsSprtDecision
{
	STATS_SPRT_CONTINUE,
	STATS_SPRT_ACCEPT_H1,		/* rate is at least p1: promote */
	STATS_SPRT_ACCEPT_H0		/* rate is at most p0: reject */
} StatsSprtDecision;

typedef struct StatsSprt
{
	double		p0;
	double		p1;
	double		log_a;			/* upper boundary, log((1 - beta) / alpha) */
	double		log_b;			/* lower boundary, log(beta / (1 - alpha)) */
} StatsSprt;

/* Set up the test; returns 0, or -1 when p0/p1 fall outside (0, 1). */
extern int	stats_sprt_init(StatsSprt *sprt, double confidence, double delta,
							double alpha, double beta);

/* Log-likelihood ratio of H1 over H0 after successes of n. */
extern double stats_sprt_llr(const StatsSprt *sprt, int64_t successes, int64_t n);

/*
 * Decision after successes of n: a boundary crossed, or, when n has
 * reached max_n (truncation), the sign of the log-likelihood ratio.
 */
extern StatsSprtDecision stats_sprt_decide(const StatsSprt *sprt,
										   int64_t successes, int64_t n,
										   int64_t max_n);

/*
 * Decision rules of threshold experiments.  The fixed rules look at
 * sample_size results: 'threshold' promotes when the success rate reaches
 * the confidence, 'wilson' when the Wilson 95% lower bound does; both
 * reject as soon as the rest of the samples can no longer get there.
 * 'sprt' is Wald's test of confidence - delta against confidence + delta,
 * truncated at 2 x sample_size by the sign of the log-likelihood ratio.
 */
typedef enum StatsRuleKind
{
	STATS_RULE_THRESHOLD,
	STATS_RULE_WILSON,
	STATS_RULE_SPRT
} StatsRuleKind;

typedef struct StatsRule
{
	StatsRuleKind kind;
	double		confidence;
	int64_t		sample_size;
	int64_t		max_samples;	/* sample_size, or 2 x sample_size for SPRT */
	int64_t		successes_needed;	/* fixed rules: fewest successes that pass */
	StatsSprt	sprt;			/* SPRT only */
} StatsRule;

typedef enum StatsVerdict
{
	STATS_VERDICT_CONTINUE,
	STATS_VERDICT_PROMOTE,
	STATS_VERDICT_REJECT
} StatsVerdict;

/* Why a verdict was reached. */
typedef enum StatsVerdictReason
{
	STATS_REASON_NONE,			/* no verdict yet */
	STATS_REASON_SAMPLE_SIZE,	/* a fixed rule at sample_size results */
	STATS_REASON_UNREACHABLE,	/* a fixed rule can no longer promote */
	STATS_REASON_BOUNDARY,		/* the SPRT crossed a boundary */
	STATS_REASON_TRUNCATED		/* the SPRT reached max_samples */
} StatsVerdictReason;

/*
 * Set up a rule.  delta, alpha and beta are used by the SPRT only.
 * Returns 0, or -1 when the parameters do not make a valid rule
 * (sample_size < 1, confidence outside (0, 1], or the SPRT's
 * confidence +/- delta outside (0, 1)).
 */
extern int	stats_rule_init(StatsRule *rule, StatsRuleKind kind,
							double confidence, int64_t sample_size,
							double delta, double alpha, double beta);

/* Whether successes of n clear a fixed rule's bar (rate or Wilson bound). */
extern int	stats_rule_passes(const StatsRule *rule, int64_t successes, int64_t n);

/* Verdict after successes of n results. */
extern StatsVerdict stats_rule_decide(const StatsRule *rule, int64_t successes,
									  int64_t n, StatsVerdictReason *reason);

#endif							/* AP_STATS_H */
