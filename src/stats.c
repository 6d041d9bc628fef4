/*-------------------------------------------------------------------------
 *
 * stats.c
 *	  Wilson intervals, the one-sided two-proportion test and Wald's SPRT.
 *	  Plain C: no PostgreSQL headers.
 *
 *-------------------------------------------------------------------------
 */
#include "stats.h"

#include <math.h>

/*
 * Wilson score interval of successes/n.
 */
StatsInterval
stats_wilson(int64_t successes, int64_t n, double z)
{
	StatsInterval result = {0.0, 1.0};
	double		p;
	double		z2;
	double		denominator;
	double		center;
	double		half_width;

	if (n <= 0)
		return result;

	p = (double) successes / (double) n;
	z2 = z * z;
	denominator = 1.0 + z2 / (double) n;
	center = (p + z2 / (2.0 * (double) n)) / denominator;
	half_width = z * sqrt(p * (1.0 - p) / (double) n +
						  z2 / (4.0 * (double) n * (double) n)) / denominator;

	result.lower = center - half_width;
	result.upper = center + half_width;
	if (result.lower < 0.0)
		result.lower = 0.0;
	if (result.upper > 1.0)
		result.upper = 1.0;
	return result;
}

/*
 * P(Z > z) for a standard normal Z.
 */
double
stats_normal_upper_tail(double z)
{
	return 0.5 * erfc(z / sqrt(2.0));
}

/*
 * One-sided pooled two-proportion z-test of H1: p_a > p_b.
 */
double
stats_two_proportion_p(int64_t successes_a, int64_t n_a,
					   int64_t successes_b, int64_t n_b)
{
	double		p_a;
	double		p_b;
	double		pooled;
	double		standard_error;

	if (n_a <= 0 || n_b <= 0)
		return 1.0;

	p_a = (double) successes_a / (double) n_a;
	p_b = (double) successes_b / (double) n_b;
	pooled = (double) (successes_a + successes_b) / (double) (n_a + n_b);
	if (pooled <= 0.0 || pooled >= 1.0)
		return 1.0;

	standard_error = sqrt(pooled * (1.0 - pooled) *
						  (1.0 / (double) n_a + 1.0 / (double) n_b));
	return stats_normal_upper_tail((p_a - p_b) / standard_error);
}

/*
 * Set up Wald's SPRT of p0 = confidence - delta against p1 = confidence +
 * delta with error rates alpha (false promotion) and beta (missed one).
 */
int
stats_sprt_init(StatsSprt *sprt, double confidence, double delta,
				double alpha, double beta)
{
	sprt->p0 = confidence - delta;
	sprt->p1 = confidence + delta;
	if (!(sprt->p0 > 0.0 && sprt->p1 < 1.0 && sprt->p0 < sprt->p1) ||
		!(alpha > 0.0 && alpha < 1.0 && beta > 0.0 && beta < 1.0))
		return -1;
	sprt->log_a = log((1.0 - beta) / alpha);
	sprt->log_b = log(beta / (1.0 - alpha));
	return 0;
}

/*
 * Log-likelihood ratio of H1 over H0 after successes of n.
 */
double
stats_sprt_llr(const StatsSprt *sprt, int64_t successes, int64_t n)
{
	double		failures = (double) (n - successes);

	return (double) successes * log(sprt->p1 / sprt->p0) +
		failures * log((1.0 - sprt->p1) / (1.0 - sprt->p0));
}

/*
 * Decision after successes of n.
 */
StatsSprtDecision
stats_sprt_decide(const StatsSprt *sprt, int64_t successes, int64_t n,
				  int64_t max_n)
{
	double		llr = stats_sprt_llr(sprt, successes, n);

	if (llr >= sprt->log_a)
		return STATS_SPRT_ACCEPT_H1;
	if (llr <= sprt->log_b)
		return STATS_SPRT_ACCEPT_H0;
	if (max_n > 0 && n >= max_n)
		return llr > 0.0 ? STATS_SPRT_ACCEPT_H1 : STATS_SPRT_ACCEPT_H0;
	return STATS_SPRT_CONTINUE;
}

/*
 * Whether successes of n clear a fixed rule's bar.
 */
int
stats_rule_passes(const StatsRule *rule, int64_t successes, int64_t n)
{
	if (n <= 0)
		return 0;
	if (rule->kind == STATS_RULE_WILSON)
		return stats_wilson(successes, n, STATS_Z95).lower >= rule->confidence;
	return (double) successes / (double) n >= rule->confidence;
}

/*
 * Set up a decision rule.
 */
int
stats_rule_init(StatsRule *rule, StatsRuleKind kind, double confidence,
				int64_t sample_size, double delta, double alpha, double beta)
{
	int64_t		low;
	int64_t		high;

	rule->kind = kind;
	rule->confidence = confidence;
	rule->sample_size = sample_size;
	rule->max_samples = sample_size;
	rule->successes_needed = 0;
	if (sample_size < 1 || !(confidence > 0.0 && confidence <= 1.0))
		return -1;

	if (kind == STATS_RULE_SPRT)
	{
		rule->max_samples = 2 * sample_size;
		return stats_sprt_init(&rule->sprt, confidence, delta, alpha, beta);
	}

	/*
	 * Fewest successes of sample_size that pass, by bisection (both bars
	 * rise with the successes); sample_size + 1 when none does.
	 */
	low = 0;
	high = sample_size + 1;
	while (low < high)
	{
		int64_t		middle = low + (high - low) / 2;

		if (stats_rule_passes(rule, middle, sample_size))
			high = middle;
		else
			low = middle + 1;
	}
	rule->successes_needed = low;
	return 0;
}

/*
 * Verdict after successes of n results.  The fixed rules decide at
 * sample_size results, or reject earlier once even all remaining results
 * being successes could not reach successes_needed.  The SPRT decides when
 * a boundary is crossed, or at max_samples by the sign of its
 * log-likelihood ratio.
 */
StatsVerdict
stats_rule_decide(const StatsRule *rule, int64_t successes, int64_t n,
				  StatsVerdictReason *reason)
{
	*reason = STATS_REASON_NONE;
	if (n <= 0)
		return STATS_VERDICT_CONTINUE;

	if (rule->kind == STATS_RULE_SPRT)
	{
		double		llr = stats_sprt_llr(&rule->sprt, successes, n);

		if (llr >= rule->sprt.log_a || llr <= rule->sprt.log_b)
			*reason = STATS_REASON_BOUNDARY;
		else if (n >= rule->max_samples)
			*reason = STATS_REASON_TRUNCATED;
		else
			return STATS_VERDICT_CONTINUE;
		return stats_sprt_decide(&rule->sprt, successes, n, rule->max_samples) ==
			STATS_SPRT_ACCEPT_H1 ? STATS_VERDICT_PROMOTE : STATS_VERDICT_REJECT;
	}

	if (n >= rule->sample_size)
	{
		*reason = STATS_REASON_SAMPLE_SIZE;
		return stats_rule_passes(rule, successes, n) ?
			STATS_VERDICT_PROMOTE : STATS_VERDICT_REJECT;
	}
	if (successes + (rule->sample_size - n) < rule->successes_needed)
	{
		*reason = STATS_REASON_UNREACHABLE;
		return STATS_VERDICT_REJECT;
	}
	return STATS_VERDICT_CONTINUE;
}
