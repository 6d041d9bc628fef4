/*-------------------------------------------------------------------------
 *
 * improvement.h
 *	  The job queue of the learning loop (improvement.c), as the background
 *	  worker (worker.c) uses it.  Each function runs inside a transaction
 *	  the worker opened, with SPI connected.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AP_IMPROVEMENT_H
#define AP_IMPROVEMENT_H

#include "adaptive_prompts.h"

#include "datatype/timestamp.h"

#include "http_client.h"

/* A job the worker claimed; its strings are malloc'd (they outlive the claim's transaction). */
typedef struct ClaimedJob
{
	int64		id;
	char		claim_token[40];	/* uuid as text */
	bool		improve;		/* kind improve (else create) */
	char	   *error_code;
	int			attempts;		/* including this one */
	int32		expected_live_version;	/* live version when enqueued; 0 none */
	int32		priority;		/* of the live version when enqueued */
	char	   *body;			/* the request body, until it is handed over */
} ClaimedJob;

/* What the worker needs to know to sleep the right time. */
typedef struct QueueState
{
	bool		has_next_due;
	TimestampTz next_due;		/* earliest next_attempt_at of a queued job */
	int64		tokens_today;	/* used this UTC day */
	bool		over_budget;
	bool		no_key;
} QueueState;

extern int	improvement_requeue_orphans(void);
extern void improvement_refresh_stats(void);
extern void improvement_check_failure_trigger(void);
extern void improvement_check_effectiveness_trigger(void);
extern void improvement_queue_state(QueueState *queue);
extern int	improvement_claim(int wanted, ClaimedJob *jobs);
extern void improvement_claimed_job_free(ClaimedJob *job);
extern void improvement_apply_result(ClaimedJob *job, const HttpResult *result);
extern void improvement_fail_after_error(ClaimedJob *job, const char *message);

/* worker.c */
extern void worker_report_error(const char *message);

#endif							/* AP_IMPROVEMENT_H */
