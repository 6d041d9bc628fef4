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
