/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The background worker of the learning loop (SPEC 5): it claims
 *	  improvement jobs, asks the Anthropic Messages API for a text, and
 *	  applies the answers (improvement.c), up to
 *	  adaptive_prompts.max_concurrent_requests at once.
 *
 * Shape, after worker_spi and pg_cron's launcher:
 *
 *	- registered while shared_preload_libraries is processed (guc.c), never
 *	  under pg_upgrade; starts when recovery has finished, so it never runs
 *	  on a hot standby (and checks RecoveryInProgress() anyway);
 *	- connects to adaptive_prompts.database only, so it never blocks DROP
 *	  DATABASE of another database;
 *	- every unit of work is its own short transaction; no transaction is
 *	  open while a request is in flight; a job is claimed (FOR UPDATE SKIP
 *	  LOCKED, its attempt counted, a fresh claim token stored) in one
 *	  transaction and its answer written in another, only while the claim
 *	  holds;
 *	- each transaction looks the extension up again, so CREATE EXTENSION,
 *	  DROP EXTENSION and a new schema are noticed without a restart; while
 *	  the extension is missing the worker idles (one LOG line);
 *	- it sleeps on its latch with a timeout of min(naptime, the next due
 *	  retry); run_auto_improvement() sets the latch at commit;
 *	- while requests are in flight it drives them in steps of at most 1 s
 *	  and checks interrupts and the postmaster in between, so SIGTERM
 *	  (pg_ctl stop, pg_terminate_backend) aborts the transfers at once; it
 *	  then exits with code 1 and the postmaster restarts it when it should;
 *	- SIGHUP reloads the settings and the API key.
 *
 * The API key comes from adaptive_prompts.api_key_file (a file of the
 * server's user with mode 0600 or 0400) or the server's ANTHROPIC_API_KEY
 * environment variable.  It lives in this process's private memory only:
 * never in shared memory, a table, a log line or an error message.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "adaptive_prompts.h"
#include "retention.h"
#include "http_client.h"
#include "improvement.h"

PGDLLEXPORT void ap_worker_main(Datum main_arg);

/* Seconds before the postmaster starts the worker again after it exited 1. */
#define WORKER_RESTART_SECONDS 5

/* How often the worker refreshes the enhancement statistics. */
#define STATS_REFRESH_SECONDS 600

/* How often the effectiveness trigger is checked (SPEC 5: at most hourly). */
#define EFFECTIVENESS_CHECK_SECONDS 3600

/* Longest API key read from the key file. */
#define API_KEY_MAX_BYTES 1024

#define WORKER_STATE_LEN 96
#define WORKER_ERROR_LEN 512

/*
 * What the worker shows the other backends: its process, its latch (set by
 * run_auto_improvement at commit), what it is doing and its last error.
 */
typedef struct WorkerShared
{
	slock_t		mutex;
	pid_t		pid;
	Oid			database_id;	/* the database it serves, once connected */
	Latch	   *latch;
	char		state[WORKER_STATE_LEN];
	char		last_error[WORKER_ERROR_LEN];
	TimestampTz last_error_at;
} WorkerShared;

static WorkerShared *worker_shared = NULL;

#if PG_VERSION_NUM >= 150000
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* A request in flight: the claim it belongs to. */
typedef struct InFlight
{
	bool		used;
	ClaimedJob	job;
} InFlight;

/* Private state of the worker process. */
static HttpClient *http_client = NULL;
static int	http_client_size = 0;
static InFlight in_flight[AP_MAX_CONCURRENT_REQUESTS];
static char *api_key = NULL;	/* malloc'd, wiped when replaced */
static const char *api_key_problem = NULL;	/* why there is none */
static Oid	served_extension = InvalidOid;	/* extension OID seen last */
static bool logged_missing_extension = false;
static TimestampTz next_stats_refresh = 0;
static TimestampTz next_effectiveness_check = 0;
static TimestampTz next_retry_due = 0;	/* of a job this worker requeued; 0 none */

static Size
worker_shmem_size(void)
{
	return MAXALIGN(sizeof(WorkerShared));
}

#if PG_VERSION_NUM >= 150000
static void
worker_shmem_request_hook(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(worker_shmem_size());
}
#endif

/*
 * Find or create the shared state (postmaster start, and each backend on
 * platforms without fork).
 */
static void
worker_shmem_startup_hook(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	worker_shared = ShmemInitStruct("adaptive_prompts worker",
									worker_shmem_size(), &found);
	if (!found)
	{
		memset(worker_shared, 0, worker_shmem_size());
		SpinLockInit(&worker_shared->mutex);
		strlcpy(worker_shared->state, "not started", WORKER_STATE_LEN);
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * Ask for the shared memory (from _PG_init while preloading): through
 * shmem_request_hook from PostgreSQL 15 on, directly before.
 */
void
worker_shmem_request(void)
{
#if PG_VERSION_NUM >= 150000
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = worker_shmem_request_hook;
#else
	RequestAddinShmemSpace(worker_shmem_size());
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = worker_shmem_startup_hook;
}

/*
 * Register the worker (from _PG_init while preloading).
 */
void
worker_register(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = WORKER_RESTART_SECONDS;
	strlcpy(worker.bgw_library_name, "adaptive_prompts", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "ap_worker_main", BGW_MAXLEN);
	strlcpy(worker.bgw_name, "adaptive_prompts worker", BGW_MAXLEN);
	strlcpy(worker.bgw_type, "adaptive_prompts worker", BGW_MAXLEN);
	worker.bgw_notify_pid = 0;
	RegisterBackgroundWorker(&worker);
}

/*
 * Wake the worker (run_auto_improvement at commit).  Nothing happens when
 * the library is not preloaded or the worker is not running.
 */
void
worker_wake(void)
{
	Latch	   *latch;

	if (worker_shared == NULL)
		return;
	SpinLockAcquire(&worker_shared->mutex);
	latch = worker_shared->latch;
	SpinLockRelease(&worker_shared->mutex);
	if (latch != NULL)
		SetLatch(latch);
}

/*
 * Copy the worker's pid (0: not running), state and last error for
 * worker_status().  False when the library is not preloaded.
 */
bool
worker_status_snapshot(int *pid, char *state, int state_len,
					   char *last_error, int error_len, int64 *last_error_at)
{
	if (worker_shared == NULL)
		return false;
	SpinLockAcquire(&worker_shared->mutex);
	*pid = worker_shared->pid;
	strlcpy(state, worker_shared->state, state_len);
	strlcpy(last_error, worker_shared->last_error, error_len);
	*last_error_at = worker_shared->last_error_at;
	SpinLockRelease(&worker_shared->mutex);
	return true;
}

/*
 * Show what the worker does, in worker_status() and pg_stat_activity.
 */
static void
set_state(const char *state, bool busy)
{
	SpinLockAcquire(&worker_shared->mutex);
	strlcpy(worker_shared->state, state, WORKER_STATE_LEN);
	SpinLockRelease(&worker_shared->mutex);
	pgstat_report_activity(busy ? STATE_RUNNING : STATE_IDLE, state);
}

/*
 * Remember the last error for worker_status().
 */
void
worker_report_error(const char *message)
{
	if (worker_shared == NULL)
		return;
	SpinLockAcquire(&worker_shared->mutex);
	strlcpy(worker_shared->last_error, message, WORKER_ERROR_LEN);
	worker_shared->last_error_at = GetCurrentTimestamp();
	SpinLockRelease(&worker_shared->mutex);
}

/*
 * Forget the key, wiping the memory that held it.
 */
static void
api_key_clear(void)
{
	if (api_key != NULL)
	{
		explicit_bzero(api_key, strlen(api_key));
		free(api_key);
		api_key = NULL;
	}
}

/*
 * Keep a copy of key (length bytes, surrounding white space dropped).
 */
static void
api_key_set(const char *key, size_t length)
{
	while (length > 0 && isspace((unsigned char) key[0]))
	{
		key++;
		length--;
	}
	while (length > 0 && isspace((unsigned char) key[length - 1]))
		length--;
	if (length == 0)
		return;
	api_key = malloc(length + 1);
	if (api_key == NULL)
		return;
	memcpy(api_key, key, length);
	api_key[length] = '\0';
}

/*
 * Read the API key from adaptive_prompts.api_key_file, or else from the
 * ANTHROPIC_API_KEY environment variable.  A key file that other users may
 * read, or that another user owns, is refused.  What is logged names the
 * file and the problem, never the content.
 */
static void
api_key_load(void)
{
	const char *previous_problem = api_key_problem;

	api_key_clear();
	api_key_problem = NULL;

	if (ap_api_key_file != NULL && ap_api_key_file[0] != '\0')
	{
		int			fd;
		struct stat st;
		char		buffer[API_KEY_MAX_BYTES + 1];
		ssize_t		length;

		fd = open(ap_api_key_file, O_RDONLY | PG_BINARY | O_NOFOLLOW, 0);
		if (fd < 0)
			api_key_problem = "the API key file cannot be opened";
		else
		{
			if (fstat(fd, &st) != 0)
				api_key_problem = "the API key file cannot be examined";
			else if (!S_ISREG(st.st_mode))
				api_key_problem = "the API key file is not a regular file";
			else if (st.st_uid != geteuid())
				api_key_problem = "the API key file is not owned by the database server's user";
			else if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
				api_key_problem = "the API key file is accessible by other users (its mode must be 0600 or 0400)";
			else
			{
				length = read(fd, buffer, API_KEY_MAX_BYTES + 1);
				if (length < 0)
					api_key_problem = "the API key file cannot be read";
				else if (length > API_KEY_MAX_BYTES)
					api_key_problem = "the API key file is too long to hold a key";
				else
				{
					api_key_set(buffer, (size_t) length);
					if (api_key == NULL)
						api_key_problem = "the API key file is empty";
				}
				explicit_bzero(buffer, sizeof(buffer));
			}
			close(fd);
		}
		if (api_key_problem != NULL)
		{
			ereport(LOG,
					(errmsg("adaptive_prompts worker: %s; requests wait until it is fixed",
							api_key_problem),
					 errdetail("adaptive_prompts.api_key_file is \"%s\".", ap_api_key_file),
					 errhint("Make it a file of the server's user with mode 0600 or 0400 holding only the key, then reload.")));
			worker_report_error(api_key_problem);
		}
		return;
	}

	{
		const char *env = getenv("ANTHROPIC_API_KEY");

		if (env != NULL)
			api_key_set(env, strlen(env));
	}
	if (api_key == NULL)
	{
		api_key_problem = "no API key: set adaptive_prompts.api_key_file or the server's ANTHROPIC_API_KEY";
		if (previous_problem != api_key_problem)
			ereport(LOG,
					(errmsg("adaptive_prompts worker: no API key is configured; requests wait until one is"),
					 errhint("Set adaptive_prompts.api_key_file to a file of mode 0600 holding the key and reload, or start the server with ANTHROPIC_API_KEY set.")));
	}
}

/*
 * On exit (SIGTERM's FATAL, or any other): stop the transfers, forget the
 * key, and tell the others that the worker is gone.
 */
static void
worker_on_exit(int code, Datum arg)
{
	(void) code;
	(void) arg;
	if (http_client != NULL)
	{
		http_client_destroy(http_client);
		http_client = NULL;
	}
	api_key_clear();
	if (worker_shared != NULL)
	{
		SpinLockAcquire(&worker_shared->mutex);
		worker_shared->pid = 0;
		worker_shared->latch = NULL;
		strlcpy(worker_shared->state, "stopped", WORKER_STATE_LEN);
		SpinLockRelease(&worker_shared->mutex);
	}
}

/*
 * Start a transaction for one unit of work and look the extension up.
 * Returns false (the transaction stays open: call worker_end) when the
 * extension is not installed; logs that once.  A new extension (created
 * again, maybe in another schema) is noticed here: plans are prepared for
 * its schema, and jobs a previous worker left running are requeued.
 */
static bool
worker_begin(const char *what)
{
	Oid			extension;
	Oid			schema = InvalidOid;
	char	   *version = NULL;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, what);

	extension = ap_find_extension(&schema, &version);
	if (!OidIsValid(extension))
	{
		if (!logged_missing_extension)
			ereport(LOG,
					(errmsg("adaptive_prompts worker: the extension is not installed in database \"%s\"; waiting for CREATE EXTENSION adaptive_prompts",
							get_database_name(MyDatabaseId))));
		logged_missing_extension = true;
		served_extension = InvalidOid;
		return false;
	}
	if (strcmp(version, AP_EXTVERSION) != 0)
	{
		if (!logged_missing_extension)
			ereport(LOG,
					(errmsg("adaptive_prompts worker: the extension is version %s in database \"%s\" and the library %s; waiting for ALTER EXTENSION adaptive_prompts UPDATE",
							version, get_database_name(MyDatabaseId), AP_EXTVERSION)));
		logged_missing_extension = true;
		served_extension = InvalidOid;
		return false;
	}
	ap_use_extension_schema(schema);
	if (extension != served_extension)
	{
		int			requeued;

		requeued = improvement_requeue_orphans();
		ereport(LOG,
				(errmsg("adaptive_prompts worker: serving the extension in schema \"%s\" of database \"%s\"",
						ap_extension_schema_name(), get_database_name(MyDatabaseId)),
				 requeued > 0 ?
				 errdetail_plural("%d job left running by an earlier worker was requeued.",
								  "%d jobs left running by an earlier worker were requeued.",
								  requeued, requeued) : 0));
		served_extension = extension;
		logged_missing_extension = false;
	}
	return true;
}

/*
 * Commit the unit of work.
 */
static void
worker_end(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
}

/* What worker_run did. */
typedef enum UnitResult
{
	UNIT_ERROR = -1,			/* fn raised an error: rolled back */
	UNIT_NO_EXTENSION = 0,		/* the extension is not installed */
	UNIT_DONE = 1
} UnitResult;

/* The message of the last error caught by worker_run. */
static char last_unit_error[WORKER_ERROR_LEN];

/*
 * Run fn in its own transaction.  An error is logged, remembered for
 * worker_status() and rolled back; the worker goes on.
 */
static UnitResult
worker_run(const char *what, void (*fn) (void *), void *arg)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	volatile UnitResult result = UNIT_NO_EXTENSION;

	PG_TRY();
	{
		if (worker_begin(what))
		{
			fn(arg);
			result = UNIT_DONE;
		}
		worker_end();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		strlcpy(last_unit_error, edata->message, sizeof(last_unit_error));
		ereport(LOG,
				(errmsg("adaptive_prompts worker: %s failed: %s", what, edata->message)));
		worker_report_error(psprintf("%s failed: %s", what, edata->message));
		FreeErrorData(edata);
		pgstat_report_activity(STATE_IDLE, NULL);
		result = UNIT_ERROR;
	}
	PG_END_TRY();
	return result;
}

/*
 * Whether the worker is running and serves this backend's database: then it
 * purges the ledger and the log, and record_work_order need not.
 */
bool
ap_worker_is_running(void)
{
	bool		running;

	if (worker_shared == NULL)
		return false;
	SpinLockAcquire(&worker_shared->mutex);
	running = worker_shared->pid != 0 && worker_shared->database_id == MyDatabaseId;
	SpinLockRelease(&worker_shared->mutex);
	return running;
}

/* Maintenance ------------------------------------------------------------ */

/*
 * Rows the worker purges from the log and from the ledger per transaction;
 * a cycle goes on with more batches while one is full, for up to a quarter
 * of the naptime (at most WORKER_PURGE_BUDGET_MS), so a high rate of
 * expiring rows is kept up with in short transactions while a backlog is
 * worked off without taking the machine from the callers.
 */
#define WORKER_PURGE_BATCH 10000
#define WORKER_PURGE_BUDGET_MS 2500

/* What one purge transaction removed. */
typedef struct PurgeBatch
{
	uint64		log_rows;
	uint64		ledger_rows;
} PurgeBatch;

static void
fold_rollups_unit(void *arg)
{
	(void) arg;
	(void) rollups_fold();
}

static void
purge_unit(void *arg)
{
	PurgeBatch *batch = (PurgeBatch *) arg;

	batch->log_rows = retention_purge_batch(WORKER_PURGE_BATCH);
	batch->ledger_rows = work_orders_purge_ledger(WORKER_PURGE_BATCH);
}

/*
 * Purge expired log and ledger rows in batches of their own transactions
 * until a batch finds less than a full one of each, or the budget is spent.
 */
static void
worker_purge(void)
{
	TimestampTz start = GetCurrentTimestamp();
	int			budget_ms = Min(WORKER_PURGE_BUDGET_MS, ap_naptime * 1000 / 4);

	for (;;)
	{
		PurgeBatch	batch = {0, 0};

		if (worker_run("purging expired log and ledger rows", purge_unit,
					   &batch) != UNIT_DONE)
			break;
		if (batch.log_rows < WORKER_PURGE_BATCH &&
			batch.ledger_rows < WORKER_PURGE_BATCH)
			break;
		if (TimestampDifferenceExceeds(start, GetCurrentTimestamp(), budget_ms))
			break;
		CHECK_FOR_INTERRUPTS();
	}
}

static void
settle_experiments_unit(void *arg)
{
	(void) arg;
	if (activity_experiments_open())
		(void) experiments_settle_open();
}

static void
settle_ab_tests_unit(void *arg)
{
	(void) arg;
	if (activity_ab_tests_open())
		(void) ab_settle_open_tests();
}

static void
refresh_stats_unit(void *arg)
{
	(void) arg;
	improvement_refresh_stats();
}

static void
failure_trigger_unit(void *arg)
{
	(void) arg;
	improvement_check_failure_trigger();
}

static void
effectiveness_trigger_unit(void *arg)
{
	(void) arg;
	improvement_check_effectiveness_trigger();
}

/*
 * The periodic work besides the queue: statistics, and the two automatic
 * triggers of a run.
 */
static void
worker_maintenance(void)
{
	TimestampTz now = GetCurrentTimestamp();

	if (now >= next_stats_refresh)
	{
		if (worker_run("refreshing enhancement statistics", refresh_stats_unit, NULL) == UNIT_DONE)
			next_stats_refresh = TimestampTzPlusMilliseconds(now, STATS_REFRESH_SECONDS * 1000);
		else
			next_stats_refresh = TimestampTzPlusMilliseconds(now, ap_naptime * 1000);
	}
	if (served_extension == InvalidOid)
		return;
	/*
	 * Fold the log's new rows into the daily rollups and purge what expired,
	 * each in its own transaction (a fold ends holding a lock on the log
	 * until it commits).
	 */
	worker_run("folding the log into the rollups", fold_rollups_unit, NULL);
	worker_purge();
	/* Decisions the last concurrent work orders left due. */
	worker_run("settling threshold experiments", settle_experiments_unit, NULL);
	worker_run("settling A/B tests", settle_ab_tests_unit, NULL);
	if (ap_failure_trigger > 0)
		worker_run("checking the failure trigger", failure_trigger_unit, NULL);
	if (now >= next_effectiveness_check)
	{
		worker_run("checking the effectiveness trigger", effectiveness_trigger_unit, NULL);
		next_effectiveness_check =
			TimestampTzPlusMilliseconds(now, EFFECTIVENESS_CHECK_SECONDS * 1000);
	}
}

/* The queue -------------------------------------------------------------- */

typedef struct ClaimArgs
{
	int			wanted;
	int			claimed;
	ClaimedJob *jobs;
	QueueState	queue;
} ClaimArgs;

static void
queue_state_unit(void *arg)
{
	improvement_queue_state((QueueState *) arg);
}

static void
claim_unit(void *arg)
{
	ClaimArgs  *args = (ClaimArgs *) arg;

	improvement_queue_state(&args->queue);
	if (args->queue.over_budget)
		return;
	args->claimed = improvement_claim(args->wanted, args->jobs);
	/* When the next job not claimed now is due. */
	improvement_queue_state(&args->queue);
}

/*
 * Make sure the client has max_concurrent_requests slots (recreated when
 * the setting changed and nothing is in flight).
 */
static void
ensure_http_client(void)
{
	char		errbuf[HTTP_ERROR_MESSAGE_SIZE];

	if (http_client != NULL && http_client_size != ap_max_concurrent_requests &&
		http_client_pending(http_client) == 0)
	{
		http_client_destroy(http_client);
		http_client = NULL;
	}
	if (http_client == NULL)
	{
		http_client = http_client_create(ap_max_concurrent_requests, errbuf, sizeof(errbuf));
		if (http_client == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("adaptive_prompts worker could not create its HTTP client: %s", errbuf)));
		http_client_size = ap_max_concurrent_requests;
	}
}

static InFlight *
in_flight_find(int64 job_id)
{
	int			i;

	for (i = 0; i < AP_MAX_CONCURRENT_REQUESTS; i++)
	{
		if (in_flight[i].used && in_flight[i].job.id == job_id)
			return &in_flight[i];
	}
	return NULL;
}

static InFlight *
in_flight_free_slot(void)
{
	int			i;

	for (i = 0; i < AP_MAX_CONCURRENT_REQUESTS; i++)
	{
		if (!in_flight[i].used)
			return &in_flight[i];
	}
	return NULL;
}

static void
in_flight_release(InFlight *slot)
{
	improvement_claimed_job_free(&slot->job);
	memset(slot, 0, sizeof(*slot));
}

/*
 * Claim as many due jobs as there are free slots and start their requests.
 * Returns the number started; *queue says when the next job is due.
 */
static int
fill_slots(QueueState *queue)
{
	ClaimArgs	args;
	ClaimedJob	jobs[AP_MAX_CONCURRENT_REQUESTS];
	int			free_slots;
	int			i;
	int			started = 0;

	memset(queue, 0, sizeof(*queue));
	ensure_http_client();
	free_slots = http_client_free_slots(http_client);
	if (free_slots <= 0 || api_key == NULL)
	{
		if (api_key == NULL)
			queue->no_key = true;
		/* Still learn when the next job is due. */
		worker_run("reading the job queue", queue_state_unit, queue);
		queue->no_key = (api_key == NULL);
		return 0;
	}

	memset(&args, 0, sizeof(args));
	memset(jobs, 0, sizeof(jobs));
	args.wanted = Min(free_slots, AP_MAX_CONCURRENT_REQUESTS);
	args.jobs = jobs;
	if (worker_run("claiming improvement jobs", claim_unit, &args) != UNIT_DONE)
	{
		/* Rolled back: the claims are undone; free what was built. */
		for (i = 0; i < AP_MAX_CONCURRENT_REQUESTS; i++)
			improvement_claimed_job_free(&jobs[i]);
		return 0;
	}
	*queue = args.queue;

	for (i = 0; i < args.claimed; i++)
	{
		HttpRequest request;
		InFlight   *slot;
		char		errbuf[HTTP_ERROR_MESSAGE_SIZE];

		slot = in_flight_free_slot();
		memset(&request, 0, sizeof(request));
		request.tag = jobs[i].id;
		request.url = ap_api_url;
		request.api_key = api_key;
		request.body = jobs[i].body;
		request.body_length = strlen(jobs[i].body);
		request.timeout_ms = (long) ap_request_timeout * 1000L;
		if (slot == NULL || !http_client_add(http_client, &request, errbuf, sizeof(errbuf)))
		{
			/* Cannot happen with free slots; the job is requeued at restart. */
			elog(LOG, "adaptive_prompts worker could not start the request of job " INT64_FORMAT ": %s",
				 jobs[i].id, slot == NULL ? "no free slot" : errbuf);
			improvement_claimed_job_free(&jobs[i]);
			continue;
		}
		/* The request has its own copy of the body. */
		free(jobs[i].body);
		jobs[i].body = NULL;
		slot->used = true;
		slot->job = jobs[i];
		started++;
	}
	return started;
}

typedef struct ResultArgs
{
	HttpResult *result;
	ClaimedJob *job;
} ResultArgs;

static void
result_unit(void *arg)
{
	ResultArgs *args = (ResultArgs *) arg;

	improvement_apply_result(args->job, args->result);
}

static void
fail_unit(void *arg)
{
	improvement_fail_after_error((ClaimedJob *) arg, last_unit_error);
}

/*
 * Write every finished request's outcome, each in its own transaction so
 * that one bad answer cannot stop the others.  A job whose write failed
 * is marked failed in one more transaction.
 */
static int
take_results(void)
{
	HttpResult *result;
	int			taken = 0;

	while ((result = http_client_next_result(http_client)) != NULL)
	{
		InFlight   *slot = in_flight_find(result->tag);

		taken++;
		if (slot != NULL && result->error != HTTP_ERROR_ABORTED)
		{
			ResultArgs	args;

			args.result = result;
			args.job = &slot->job;
			if (worker_run("writing the answer of an improvement job", result_unit, &args) == UNIT_ERROR)
				worker_run("recording a failed improvement job", fail_unit, &slot->job);
			else if (slot->job.retry_in >= 0)
			{
				/* Come back for it on time, also while others are in flight. */
				TimestampTz due = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
															  (int64) (slot->job.retry_in * 1000.0));

				if (next_retry_due == 0 || due < next_retry_due)
					next_retry_due = due;
			}
		}
		if (slot != NULL)
			in_flight_release(slot);
		http_result_free(result);
	}
	return taken;
}

/*
 * Milliseconds until the worker should look at the queue again.
 */
static long
sleep_time(const QueueState *queue)
{
	long		timeout = (long) ap_naptime * 1000L;

	if (queue->has_next_due && !queue->no_key && !queue->over_budget)
	{
		long		secs;
		int			usecs;
		TimestampTz now = GetCurrentTimestamp();

		if (queue->next_due <= now)
			return 0;
		TimestampDifference(now, queue->next_due, &secs, &usecs);
		timeout = Min(timeout, secs * 1000L + usecs / 1000 + 1);
	}
	return timeout;
}

/*
 * How long one step of the transfers may wait: at most a second, and not
 * past the moment a queued job comes due.
 */
static int
step_wait_ms(const QueueState *queue)
{
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz due = 0;
	long		secs;
	int			usecs;
	long		wait;

	/* Nothing could be started now anyway: wait for answers. */
	if (http_client_free_slots(http_client) <= 0 || queue->over_budget ||
		queue->no_key)
		return HTTP_MAX_STEP_WAIT_MS;
	if (queue->has_next_due)
		due = queue->next_due;
	if (next_retry_due != 0 && (due == 0 || next_retry_due < due))
		due = next_retry_due;
	if (due == 0)
		return HTTP_MAX_STEP_WAIT_MS;
	if (due <= now)
		return 0;
	TimestampDifference(now, due, &secs, &usecs);
	wait = secs * 1000L + usecs / 1000 + 1;
	return (int) Min(wait, (long) HTTP_MAX_STEP_WAIT_MS);
}

/*
 * Drive the requests in flight until they are done, refilling free slots
 * as answers come in.  Interrupts (SIGTERM) and the postmaster's death are
 * checked at least every second.
 */
static void
run_requests(const QueueState *first)
{
	char		errbuf[HTTP_ERROR_MESSAGE_SIZE];
	QueueState	queue = *first;
	bool		refill = false;

	while (http_client_pending(http_client) > 0)
	{
		int			rc;
		char		state[WORKER_STATE_LEN];

		snprintf(state, sizeof(state), "waiting for %d API request%s",
				 http_client_running(http_client),
				 http_client_running(http_client) == 1 ? "" : "s");
		set_state(state, true);

		if (http_client_step(http_client, step_wait_ms(&queue), errbuf, sizeof(errbuf)) < 0)
		{
			ereport(LOG,
					(errmsg("adaptive_prompts worker: HTTP transfers failed: %s", errbuf)));
			http_client_abort_all(http_client);
		}

		/* A run committed meanwhile, SIGHUP, SIGTERM, postmaster death. */
		rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 0,
					   PG_WAIT_EXTENSION);
		if (rc & WL_LATCH_SET)
		{
			ResetLatch(MyLatch);
			refill = true;
		}
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			api_key_load();
		}

		if (take_results() > 0)
			refill = true;
		/* A retry that has come due. */
		if (((queue.has_next_due && queue.next_due <= GetCurrentTimestamp()) ||
			 (next_retry_due != 0 && next_retry_due <= GetCurrentTimestamp())) &&
			!queue.over_budget && !queue.no_key)
			refill = true;
		if (refill && served_extension != InvalidOid &&
			http_client_free_slots(http_client) > 0)
		{
			next_retry_due = 0;
			fill_slots(&queue);
			refill = false;
		}
	}
}

/*
 * Entry point of the background worker.
 */
void
ap_worker_main(Datum main_arg)
{
	(void) main_arg;
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	BackgroundWorkerInitializeConnection(ap_worker_database, NULL, 0);
	pgstat_report_appname("adaptive_prompts worker");
	ap_set_actor(AP_WORKER_ACTOR);

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		ereport(FATAL,
				(errmsg("adaptive_prompts worker could not initialize libcurl")));

	before_shmem_exit(worker_on_exit, (Datum) 0);
	SpinLockAcquire(&worker_shared->mutex);
	worker_shared->pid = MyProcPid;
	worker_shared->database_id = MyDatabaseId;
	worker_shared->latch = MyLatch;
	SpinLockRelease(&worker_shared->mutex);
	set_state("starting", false);

	ereport(LOG,
			(errmsg("adaptive_prompts worker started in database \"%s\"", ap_worker_database)));
	api_key_load();

	for (;;)
	{
		QueueState	queue;
		long		timeout;
		int			rc;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			api_key_load();
		}

		memset(&queue, 0, sizeof(queue));
		if (RecoveryInProgress())
		{
			/* Not reached with BgWorkerStart_RecoveryFinished; be safe. */
			set_state("idle: the server is a standby", false);
			timeout = (long) ap_naptime * 1000L;
		}
		else
		{
			worker_maintenance();
			/* Each claim looks the extension up again (worker_begin). */
			if (fill_slots(&queue) > 0)
			{
				run_requests(&queue);
				continue;
			}
			if (served_extension == InvalidOid)
			{
				set_state("waiting for CREATE EXTENSION adaptive_prompts", false);
				timeout = (long) ap_naptime * 1000L;
			}
			else
			{
				if (queue.no_key)
					set_state("waiting for an API key", false);
				else if (queue.over_budget)
					set_state("waiting: the daily token budget is used up", false);
				else
					set_state("idle", false);
				timeout = sleep_time(&queue);
			}
		}

		rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					   timeout, PG_WAIT_EXTENSION);
		if (rc & WL_LATCH_SET)
			ResetLatch(MyLatch);
	}
}
