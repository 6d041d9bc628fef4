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

/* P(Z > z) = p: the standard normal upper quantile, for 0 < p < 1. */
extern double stats_normal_upper_quantile(double p);

/*
 * One-sided pooled two-proportion z statistic of H1: p_a > p_b; 0 when
 * either arm is empty or the pooled rate is 0 or 1.  Its upper tail is
 * stats_two_proportion_p().
 */
extern double stats_two_proportion_z(int64_t successes_a, int64_t n_a,
									 int64_t successes_b, int64_t n_b);

/*
 * Group-sequential boundaries (Lan-DeMets alpha spending).
 *
 * A one-sided test looked at up to STATS_GS_MAX_LOOKS times, at
 * information fractions 0 < t_1 < ... < t_K = 1, stops at the first look
 * whose z statistic reaches that look's boundary b_k.  The boundaries are
 * chosen so that, with no difference, the probability of stopping at look
 * k or before is alpha(t_k), the spending function:
 *
 *	 O'Brien-Fleming type	alpha(t) = 2 - 2 Phi(Phi^-1(1 - alpha/2) / sqrt(t))
 *	 Pocock type			alpha(t) = alpha ln(1 + (e - 1) t)
 *
 * The joint law of the z statistics is that of a Brownian motion observed
 * at the fractions (independent increments); the crossing probabilities
 * are computed by the Armitage-McPherson-Rowe recursion, numerical
 * integration of the sub-density of the continuing paths on a fixed grid
 * (Jennison and Turnbull, Group Sequential Methods, ch. 19).
 */
#define STATS_GS_MAX_LOOKS 16

/* Points of the integration grid per look (odd, for Simpson's rule). */
#define STATS_GS_GRID_POINTS 1201

/* A boundary this high stands for "cannot stop at this look". */
#define STATS_GS_NO_STOP 40.0

typedef enum StatsSpendingShape
{
	STATS_SPENDING_OBRIEN_FLEMING,
	STATS_SPENDING_POCOCK
} StatsSpendingShape;

/* alpha(t): alpha spent by information fraction t (0 at 0, alpha at 1). */
extern double stats_spending(StatsSpendingShape shape, double alpha, double t);

/*
 * Probability, with no difference, of a first crossing at each look of
 * the boundaries b[0..looks-1] at fractions t[0..looks-1]; writes them to
 * crossing[] and returns their sum.  Returns -1 when the fractions are not
 * increasing in (0, 1] or looks is outside 1..STATS_GS_MAX_LOOKS.
 */
extern double stats_gs_crossing(const double *t, const double *b, int looks,
								double *crossing);

/*
 * Boundaries b[0..looks-1] of Lan-DeMets spending with this shape at
 * fractions t[].  Returns 0, or -1 for invalid fractions or alpha outside
 * (0, 1).
 */
extern int	stats_gs_boundaries(StatsSpendingShape shape, double alpha,
								const double *t, int looks, double *b);

/*
 * The watch after a threshold promotion: is the watched success rate
 * worse than the bar?  Wald's SPRT of p_good (the bar plus a margin: keep)
 * against p_bad (the bar minus a margin: roll back), truncated at
 * sample_size work orders:
 *
 *	 - after each work order, roll back as soon as the log-likelihood ratio
 *	   of p_bad over p_good reaches log((1 - beta) / alpha) (fast when
 *	   clearly worse);
 *	 - at sample_size, roll back when the successes are at most
 *	   final_max_successes, the largest count that keeps the exact
 *	   probability of a rollback at p_good (early or final) at most alpha;
 *	 - otherwise keep.
 *
 * The exact calibration is dynamic programming over (work orders,
 * successes); above STATS_WATCH_EXACT_MAX work orders the final count
 * comes from the normal approximation of the binomial at the level left
 * after the early boundary's exact error over the first
 * STATS_WATCH_EXACT_MAX work orders (later crossings at p_good are
 * negligible: the ratio drifts down).
 */
#define STATS_WATCH_EXACT_MAX 5000

typedef struct StatsWatch
{
	double		p_good;
	double		p_bad;
	double		alpha;
	double		beta;
	int64_t		sample_size;
	double		log_upper;		/* early rollback boundary */
	double		llr_success;	/* log(p_bad / p_good) */
	double		llr_failure;	/* log((1 - p_bad) / (1 - p_good)) */
	int64_t		final_max_successes;	/* -1: never at the end */
	double		error_at_good;	/* P(rollback) at p_good (exact up to the max) */
} StatsWatch;

typedef enum StatsWatchVerdict
{
	STATS_WATCH_CONTINUE,
	STATS_WATCH_KEEP,
	STATS_WATCH_ROLL_BACK_EARLY,	/* the boundary was reached */
	STATS_WATCH_ROLL_BACK_FINAL		/* at most final_max_successes at the end */
} StatsWatchVerdict;

/*
 * Set up the watch.  Returns 0, or -1 unless 0 < p_bad < p_good < 1, alpha
 * and beta are in (0, 1) and sample_size >= 1.
 */
extern int	stats_watch_init(StatsWatch *watch, double p_good, double p_bad,
							 double alpha, double beta, int64_t sample_size);

/* Log-likelihood ratio of p_bad over p_good after successes of n. */
extern double stats_watch_llr(const StatsWatch *watch, int64_t successes, int64_t n);

/* Verdict after successes of n watched work orders. */
extern StatsWatchVerdict stats_watch_decide(const StatsWatch *watch,
											int64_t successes, int64_t n);

/*
 * Exact probability that the watch rolls back when the true rate is
 * rate, and the expected number of work orders watched; -1 when
 * sample_size is above STATS_WATCH_EXACT_MAX.
 */
extern double stats_watch_rollback_probability(const StatsWatch *watch,
											   double rate,
											   double *expected_work_orders);

#endif							/* AP_STATS_H */
