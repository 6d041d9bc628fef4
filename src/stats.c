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
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif
#ifndef M_E
#define M_E 2.71828182845904523536
#endif

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
 * Pooled two-proportion z statistic of p_a against p_b; false when it is
 * undefined (an empty arm, or a pooled rate of 0 or 1).
 */
static bool
two_proportion_z(int64_t successes_a, int64_t n_a,
				 int64_t successes_b, int64_t n_b, double *z)
{
	double		p_a;
	double		p_b;
	double		pooled;
	double		standard_error;

	if (n_a <= 0 || n_b <= 0)
		return false;

	p_a = (double) successes_a / (double) n_a;
	p_b = (double) successes_b / (double) n_b;
	pooled = (double) (successes_a + successes_b) / (double) (n_a + n_b);
	if (pooled <= 0.0 || pooled >= 1.0)
		return false;

	standard_error = sqrt(pooled * (1.0 - pooled) *
						  (1.0 / (double) n_a + 1.0 / (double) n_b));
	*z = (p_a - p_b) / standard_error;
	return true;
}

/*
 * One-sided pooled two-proportion z-test of H1: p_a > p_b (1 when the
 * statistic is undefined).
 */
double
stats_two_proportion_p(int64_t successes_a, int64_t n_a,
					   int64_t successes_b, int64_t n_b)
{
	double		z;

	if (!two_proportion_z(successes_a, n_a, successes_b, n_b, &z))
		return 1.0;
	return stats_normal_upper_tail(z);
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

/*
 * The z with P(Z > z) = p, by bisection on the upper tail (monotone, and
 * exact to the precision of erfc).
 */
double
stats_normal_upper_quantile(double p)
{
	double		low = -40.0;
	double		high = 40.0;
	int			i;

	if (p <= 0.0)
		return high;
	if (p >= 1.0)
		return low;
	for (i = 0; i < 200 && high - low > 1e-13; i++)
	{
		double		middle = 0.5 * (low + high);

		if (stats_normal_upper_tail(middle) > p)
			low = middle;
		else
			high = middle;
	}
	return 0.5 * (low + high);
}

/*
 * One-sided pooled two-proportion z statistic of H1: p_a > p_b (0 when it
 * is undefined).
 */
double
stats_two_proportion_z(int64_t successes_a, int64_t n_a,
					   int64_t successes_b, int64_t n_b)
{
	double		z;

	if (!two_proportion_z(successes_a, n_a, successes_b, n_b, &z))
		return 0.0;
	return z;
}

/*
 * Alpha spent by information fraction t.
 */
double
stats_spending(StatsSpendingShape shape, double alpha, double t)
{
	if (t <= 0.0)
		return 0.0;
	if (t >= 1.0)
		return alpha;
	if (shape == STATS_SPENDING_POCOCK)
		return alpha * log(1.0 + (M_E - 1.0) * t);
	return 2.0 * stats_normal_upper_tail(stats_normal_upper_quantile(alpha / 2.0) /
										 sqrt(t));
}

/*
 * The sub-density of the continuing paths at one look, on the score
 * scale S = Z sqrt(t): values at an evenly spaced grid with Simpson
 * weights already folded in (weight[i] = Simpson weight x h / 3).
 */
typedef struct GsGrid
{
	double		low;
	double		step;
	double		weighted[STATS_GS_GRID_POINTS];	/* density x weight */
} GsGrid;

static double
gs_normal_density(double x)
{
	return exp(-0.5 * x * x) / sqrt(2.0 * M_PI);
}

/* Simpson weight of grid point i (without h / 3). */
static double
gs_simpson_weight(int i)
{
	if (i == 0 || i == STATS_GS_GRID_POINTS - 1)
		return 1.0;
	return (i % 2) ? 4.0 : 2.0;
}

/*
 * Grid bounds for a look at fraction t whose boundary on the score scale
 * is upper: from 10 standard deviations below the mean up to the boundary
 * (or 10 standard deviations above when the boundary is higher).
 */
static void
gs_grid_bounds(GsGrid *grid, double t, double upper)
{
	double		low = -10.0 * sqrt(t);
	double		high = 10.0 * sqrt(t);

	if (upper < high)
		high = upper;
	if (high <= low)
		high = low + 1e-9;
	grid->low = low;
	grid->step = (high - low) / (double) (STATS_GS_GRID_POINTS - 1);
}

/*
 * Probability of crossing score-scale boundary upper at a look whose
 * increment from the previous look has variance increment, given the
 * previous look's grid (previous == NULL: the first look, variance t).
 */
static double
gs_cross(const GsGrid *previous, double increment, double upper)
{
	double		sd = sqrt(increment);
	double		sum = 0.0;
	int			i;

	if (previous == NULL)
		return stats_normal_upper_tail(upper / sd);
	for (i = 0; i < STATS_GS_GRID_POINTS; i++)
	{
		double		x = previous->low + previous->step * (double) i;

		sum += previous->weighted[i] * stats_normal_upper_tail((upper - x) / sd);
	}
	return sum;
}

/*
 * The grid of the continuing paths at a look (fraction t, score-scale
 * boundary upper, increment variance increment) from the previous look's.
 */
static void
gs_next_grid(const GsGrid *previous, GsGrid *next, double t, double increment,
			 double upper)
{
	double		sd = sqrt(increment);
	int			j;

	gs_grid_bounds(next, t, upper);
	for (j = 0; j < STATS_GS_GRID_POINTS; j++)
	{
		double		y = next->low + next->step * (double) j;
		double		density = 0.0;

		if (previous == NULL)
			density = gs_normal_density(y / sd) / sd;
		else
		{
			int			i;

			for (i = 0; i < STATS_GS_GRID_POINTS; i++)
			{
				double		x = previous->low + previous->step * (double) i;

				density += previous->weighted[i] * gs_normal_density((y - x) / sd);
			}
			density /= sd;
		}
		next->weighted[j] = density * gs_simpson_weight(j) * next->step / 3.0;
	}
}

/* Fractions increasing in (0, 1], 1..STATS_GS_MAX_LOOKS of them. */
static int
gs_fractions_valid(const double *t, int looks)
{
	int			k;

	if (looks < 1 || looks > STATS_GS_MAX_LOOKS)
		return 0;
	for (k = 0; k < looks; k++)
	{
		if (!(t[k] > 0.0 && t[k] <= 1.0) || (k > 0 && !(t[k] > t[k - 1])))
			return 0;
	}
	return 1;
}

/*
 * First-crossing probabilities of given boundaries, with no difference.
 */
double
stats_gs_crossing(const double *t, const double *b, int looks, double *crossing)
{
	static GsGrid grids[2];
	GsGrid	   *previous = NULL;
	double		total = 0.0;
	int			k;

	if (!gs_fractions_valid(t, looks))
		return -1.0;
	for (k = 0; k < looks; k++)
	{
		double		increment = t[k] - (k > 0 ? t[k - 1] : 0.0);
		double		upper = b[k] * sqrt(t[k]);
		GsGrid	   *next = &grids[k % 2];

		crossing[k] = gs_cross(previous, increment, upper);
		total += crossing[k];
		if (k + 1 < looks)
		{
			gs_next_grid(previous, next, t[k], increment, upper);
			previous = next;
		}
	}
	return total;
}

/*
 * Lan-DeMets boundaries: at each look, the boundary whose crossing
 * probability (given no earlier crossing) is the alpha spent since the
 * previous look, by bisection.
 */
int
stats_gs_boundaries(StatsSpendingShape shape, double alpha, const double *t,
					int looks, double *b)
{
	static GsGrid grids[2];
	GsGrid	   *previous = NULL;
	int			k;

	if (!gs_fractions_valid(t, looks) || !(alpha > 0.0 && alpha < 1.0))
		return -1;
	for (k = 0; k < looks; k++)
	{
		double		increment = t[k] - (k > 0 ? t[k - 1] : 0.0);
		double		spend;
		double		low = -10.0;
		double		high = STATS_GS_NO_STOP;
		GsGrid	   *next = &grids[k % 2];
		int			i;

		spend = stats_spending(shape, alpha, t[k]) -
			(k > 0 ? stats_spending(shape, alpha, t[k - 1]) : 0.0);
		if (spend <= 1e-15)
			b[k] = STATS_GS_NO_STOP;
		else
		{
			for (i = 0; i < 100 && high - low > 1e-9; i++)
			{
				double		middle = 0.5 * (low + high);

				if (gs_cross(previous, increment, middle * sqrt(t[k])) > spend)
					low = middle;
				else
					high = middle;
			}
			b[k] = 0.5 * (low + high);
		}
		if (k + 1 < looks)
		{
			gs_next_grid(previous, next, t[k], increment, b[k] * sqrt(t[k]));
			previous = next;
		}
	}
	return 0;
}

/*
 * Log-likelihood ratio of p_bad over p_good after successes of n.
 */
double
stats_watch_llr(const StatsWatch *watch, int64_t successes, int64_t n)
{
	return (double) successes * watch->llr_success +
		(double) (n - successes) * watch->llr_failure;
}

/* Has the early rollback boundary been reached? */
static int
watch_crossed(const StatsWatch *watch, int64_t successes, int64_t n)
{
	return stats_watch_llr(watch, successes, n) >= watch->log_upper - 1e-9;
}

/*
 * Run the watch on a true rate by dynamic programming over the successes
 * after each work order, up to min(sample_size, STATS_WATCH_EXACT_MAX)
 * work orders, with only the early boundary.  Returns the probability of
 * an early rollback; final[] (sample_size + 1 entries, when the watch is
 * within the maximum) receives the distribution of the successes at the
 * end of the paths still watched; *expected gets the expected work
 * orders of the early rollbacks.  -1 when out of memory.
 */
static double
watch_run_early(const StatsWatch *watch, double rate, double *final,
				double *expected)
{
	int64_t		steps = watch->sample_size < STATS_WATCH_EXACT_MAX ?
		watch->sample_size : STATS_WATCH_EXACT_MAX;
	double	   *current = calloc((size_t) steps + 2, sizeof(double));
	double		early = 0.0;
	int64_t		n;
	int64_t		s;

	if (current == NULL)
		return -1.0;
	*expected = 0.0;
	current[0] = 1.0;
	for (n = 1; n <= steps; n++)
	{
		/* Successes now range over 0..n; update from the top down. */
		current[n] = current[n - 1] * rate;
		for (s = n - 1; s >= 1; s--)
			current[s] = current[s] * (1.0 - rate) + current[s - 1] * rate;
		current[0] *= 1.0 - rate;
		for (s = 0; s <= n && watch_crossed(watch, s, n); s++)
		{
			early += current[s];
			*expected += (double) n * current[s];
			current[s] = 0.0;
		}
	}
	if (final != NULL && steps == watch->sample_size)
		memcpy(final, current, sizeof(double) * ((size_t) steps + 1));
	free(current);
	return early;
}

/*
 * Set up the watch and calibrate its final count.
 */
int
stats_watch_init(StatsWatch *watch, double p_good, double p_bad, double alpha,
				 double beta, int64_t sample_size)
{
	double	   *final = NULL;
	double		early;
	double		expected;
	double		mass;
	int64_t		s;

	memset(watch, 0, sizeof(*watch));
	if (!(p_bad > 0.0 && p_bad < p_good && p_good < 1.0) ||
		!(alpha > 0.0 && alpha < 1.0 && beta > 0.0 && beta < 1.0) ||
		sample_size < 1)
		return -1;
	watch->p_good = p_good;
	watch->p_bad = p_bad;
	watch->alpha = alpha;
	watch->beta = beta;
	watch->sample_size = sample_size;
	watch->log_upper = log((1.0 - beta) / alpha);
	watch->llr_success = log(p_bad / p_good);
	watch->llr_failure = log((1.0 - p_bad) / (1.0 - p_good));
	watch->final_max_successes = -1;

	if (sample_size <= STATS_WATCH_EXACT_MAX)
	{
		final = calloc((size_t) sample_size + 1, sizeof(double));
		if (final == NULL)
			return -1;
	}
	early = watch_run_early(watch, p_good, final, &expected);
	if (early < 0.0)
	{
		free(final);
		return -1;
	}
	watch->error_at_good = early;

	if (final != NULL)
	{
		/* The largest final count whose rollbacks keep the error <= alpha. */
		mass = early;
		for (s = 0; s <= sample_size; s++)
		{
			if (mass + final[s] > alpha + 1e-12)
				break;
			mass += final[s];
			watch->final_max_successes = s;
		}
		watch->error_at_good = mass;
		free(final);
	}
	else if (alpha - early > 0.0)
	{
		double		n = (double) sample_size;
		double		sd = sqrt(n * p_good * (1.0 - p_good));

		watch->final_max_successes = (int64_t)
			floor(n * p_good - 0.5 - sd * stats_normal_upper_quantile(alpha - early));
		watch->error_at_good = alpha;
	}
	return 0;
}

/*
 * Verdict after successes of n watched work orders.
 */
StatsWatchVerdict
stats_watch_decide(const StatsWatch *watch, int64_t successes, int64_t n)
{
	if (n <= 0)
		return STATS_WATCH_CONTINUE;
	if (watch_crossed(watch, successes, n))
		return STATS_WATCH_ROLL_BACK_EARLY;
	if (n < watch->sample_size)
		return STATS_WATCH_CONTINUE;
	return successes <= watch->final_max_successes ?
		STATS_WATCH_ROLL_BACK_FINAL : STATS_WATCH_KEEP;
}

/*
 * Exact rollback probability of the watch at a true rate.
 */
double
stats_watch_rollback_probability(const StatsWatch *watch, double rate,
								 double *expected_work_orders)
{
	double	   *final;
	double		early;
	double		expected;
	double		still_watched = 0.0;
	double		probability;
	int64_t		s;

	if (watch->sample_size > STATS_WATCH_EXACT_MAX)
		return -1.0;
	final = calloc((size_t) watch->sample_size + 1, sizeof(double));
	if (final == NULL)
		return -1.0;
	early = watch_run_early(watch, rate, final, &expected);
	probability = early;
	for (s = 0; s <= watch->sample_size; s++)
	{
		still_watched += final[s];
		if (s <= watch->final_max_successes)
			probability += final[s];
	}
	free(final);
	if (expected_work_orders != NULL)
		*expected_work_orders = expected + (double) watch->sample_size * still_watched;
	return probability;
}
