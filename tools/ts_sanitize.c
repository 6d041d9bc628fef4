/*
 * ts_sanitize.c
 *		Command-line driver over the TypeScript sanitizer core.
 *
 *	 ts_sanitize [--ts | --tsx] [FILE] > out.ts
 *		 Sanitizes FILE (default: standard input) to standard output and
 *		 prints the names of the changes made on standard error, one per
 *		 line.  Exit status 0.  The input is lexed as TSX (JSX understood)
 *		 with --tsx, as TypeScript without JSX with --ts; without either, as
 *		 TSX when FILE ends in .tsx and as TypeScript otherwise (standard
 *		 input: TypeScript).
 *
 *	 ts_sanitize --bench [--iterations N] [--min-seconds S] [--ts | --tsx] FILE...
 *		 Loads the files, sanitizes all of them N times (default: as many
 *		 rounds as fit in S seconds, default 2) and prints the number of
 *		 files, bytes, files changed, seconds and MB/s (1 MB = 10^6 bytes).
 *
 *	 ts_sanitize --changed [--ts | --tsx] FILE...
 *		 Prints each file the sanitizer would change, with its changes, and
 *		 the number of files checked and changed on standard error.  Exit
 *		 status 1 when any file was changed.
 *
 * In --bench and --changed each file's kind is taken from its name (.tsx)
 * unless --ts or --tsx is given.
 */
#define _POSIX_C_SOURCE 200809L

#include "../src/ts_sanitizer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct loaded_file
{
	const char *path;
	char	   *data;
	size_t		len;
	ts_source_kind kind;
} loaded_file;

/* Kind forced by --ts / --tsx, or -1: from the file name. */
static int	forced_kind = -1;

/*
 * If arg is --ts or --tsx, record it and return 1.
 */
static int
kind_option(const char *arg)
{
	if (strcmp(arg, "--ts") == 0)
		forced_kind = TS_SOURCE_TS;
	else if (strcmp(arg, "--tsx") == 0)
		forced_kind = TS_SOURCE_TSX;
	else
		return 0;
	return 1;
}

/*
 * The kind to lex path as.
 */
static ts_source_kind
kind_of(const char *path)
{
	if (forced_kind >= 0)
		return (ts_source_kind) forced_kind;
	return path ? ts_source_kind_of_name(path) : TS_SOURCE_TS;
}

/*
 * Read all of stream into a malloc'd buffer.
 */
static char *
read_stream(FILE *stream, size_t *len_out)
{
	size_t		cap = 1 << 16;
	size_t		len = 0;
	char	   *buf = malloc(cap);

	if (buf == NULL)
		return NULL;
	for (;;)
	{
		size_t		n;

		if (len == cap)
		{
			char	   *grown = realloc(buf, cap * 2);

			if (grown == NULL)
			{
				free(buf);
				return NULL;
			}
			buf = grown;
			cap *= 2;
		}
		n = fread(buf + len, 1, cap - len, stream);
		len += n;
		if (n == 0)
		{
			if (ferror(stream))
			{
				free(buf);
				return NULL;
			}
			break;
		}
	}
	*len_out = len;
	return buf;
}

/*
 * Print the names of the changes in mask, one per line.
 */
static void
print_changes(FILE *stream, unsigned int mask, const char *separator)
{
	int			bit;
	int			first = 1;

	for (bit = 0; bit < TS_CHANGE_COUNT; bit++)
	{
		if (mask & (1u << bit))
		{
			fprintf(stream, "%s%s", first ? "" : separator, ts_change_name(bit));
			first = 0;
		}
	}
	if (!first && strcmp(separator, "\n") == 0)
		fputc('\n', stream);
}

/*
 * Load the named files.
 */
static loaded_file *
load_files(char **paths, int count, size_t *total)
{
	loaded_file *files = calloc((size_t) count, sizeof(loaded_file));
	int			i;

	if (files == NULL)
		return NULL;
	*total = 0;
	for (i = 0; i < count; i++)
	{
		FILE	   *f = fopen(paths[i], "rb");

		if (f == NULL)
		{
			fprintf(stderr, "ts_sanitize: cannot open %s: %s\n", paths[i], strerror(errno));
			exit(2);
		}
		files[i].path = paths[i];
		files[i].kind = kind_of(paths[i]);
		files[i].data = read_stream(f, &files[i].len);
		fclose(f);
		if (files[i].data == NULL)
		{
			fprintf(stderr, "ts_sanitize: cannot read %s\n", paths[i]);
			exit(2);
		}
		*total += files[i].len;
	}
	return files;
}

/*
 * Seconds on the monotonic clock.
 */
static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/*
 * Sanitize every file once; returns how many were changed.
 */
static int
sanitize_all(loaded_file *files, int count)
{
	int			changed = 0;
	int			i;

	for (i = 0; i < count; i++)
	{
		ts_sanitize_result r;

		if (ts_sanitize_kind(files[i].data, files[i].len, files[i].kind, &r) != 0)
		{
			fprintf(stderr, "ts_sanitize: out of memory\n");
			exit(2);
		}
		if (r.changes)
			changed++;
		ts_sanitize_result_free(&r);
	}
	return changed;
}

/*
 * --bench: time the core over the files.
 */
static int
run_bench(char **argv, int argc)
{
	long		iterations = 0;
	double		min_seconds = 2.0;
	int			first = 0;
	size_t		total;
	loaded_file *files;
	int			changed;
	double		start;
	double		elapsed;
	long		done = 0;

	while (first < argc && strncmp(argv[first], "--", 2) == 0)
	{
		if (strcmp(argv[first], "--iterations") == 0 && first + 1 < argc)
			iterations = atol(argv[first + 1]);
		else if (strcmp(argv[first], "--min-seconds") == 0 && first + 1 < argc)
			min_seconds = atof(argv[first + 1]);
		else if (kind_option(argv[first]))
		{
			first++;
			continue;
		}
		else
		{
			fprintf(stderr, "ts_sanitize: unknown option %s\n", argv[first]);
			return 2;
		}
		first += 2;
	}
	if (first >= argc)
	{
		fprintf(stderr, "usage: ts_sanitize --bench [--iterations N] [--min-seconds S] [--ts | --tsx] FILE...\n");
		return 2;
	}
	files = load_files(argv + first, argc - first, &total);
	if (files == NULL)
		return 2;

	changed = sanitize_all(files, argc - first);	/* warm-up */
	start = now_seconds();
	do
	{
		sanitize_all(files, argc - first);
		done++;
		elapsed = now_seconds() - start;
	} while (iterations > 0 ? done < iterations : elapsed < min_seconds);

	printf("files %d\nbytes %zu\nchanged_files %d\niterations %ld\nseconds %.6f\nMB_per_s %.1f\n",
		   argc - first, total, changed, done, elapsed,
		   (double) total * (double) done / elapsed / 1e6);
	return 0;
}

/*
 * --changed: list the files the sanitizer would change.
 */
static int
run_changed(char **paths, int count)
{
	int			changed = 0;
	int			i;

	if (count > 0 && kind_option(paths[0]))
	{
		paths++;
		count--;
	}
	for (i = 0; i < count; i++)
	{
		size_t		total;
		loaded_file *file = load_files(paths + i, 1, &total);
		ts_sanitize_result r;

		if (file == NULL ||
			ts_sanitize_kind(file->data, file->len, file->kind, &r) != 0)
		{
			fprintf(stderr, "ts_sanitize: out of memory\n");
			return 2;
		}
		if (r.changes || r.output_len != file->len ||
			(r.output != NULL && memcmp(r.output, file->data, file->len) != 0))
		{
			printf("%s: ", file->path);
			print_changes(stdout, r.changes, ",");
			printf("%s\n", r.changes ? "" : "(output differs, no change reported)");
			changed++;
		}
		ts_sanitize_result_free(&r);
		free(file->data);
		free(file);
	}
	fprintf(stderr, "files %d\nchanged_files %d\n", count, changed);
	return changed ? 1 : 0;
}

int
main(int argc, char **argv)
{
	size_t		len;
	char	   *input;
	ts_sanitize_result r;
	const char *path = NULL;
	FILE	   *in = stdin;
	int			arg;

	if (argc > 1 && strcmp(argv[1], "--bench") == 0)
		return run_bench(argv + 2, argc - 2);
	if (argc > 1 && strcmp(argv[1], "--changed") == 0)
		return run_changed(argv + 2, argc - 2);
	for (arg = 1; arg < argc; arg++)
	{
		if (kind_option(argv[arg]))
			continue;
		if (path != NULL || strncmp(argv[arg], "--", 2) == 0)
		{
			fprintf(stderr, "usage: ts_sanitize [--ts | --tsx] [FILE] > out.ts\n"
					"       ts_sanitize --bench [--iterations N] [--min-seconds S] [--ts | --tsx] FILE...\n"
					"       ts_sanitize --changed [--ts | --tsx] FILE...\n");
			return 2;
		}
		path = argv[arg];
	}
	if (path != NULL && (in = fopen(path, "rb")) == NULL)
	{
		fprintf(stderr, "ts_sanitize: cannot open %s: %s\n", path, strerror(errno));
		return 2;
	}

	input = read_stream(in, &len);
	if (input == NULL)
	{
		fprintf(stderr, "ts_sanitize: cannot read %s\n", path ? path : "standard input");
		return 2;
	}
	if (in != stdin)
		fclose(in);
	if (ts_sanitize_kind(input, len, kind_of(path), &r) != 0)
	{
		fprintf(stderr, "ts_sanitize: out of memory\n");
		return 2;
	}
	if (fwrite(r.output ? r.output : input, 1, r.output_len, stdout) != r.output_len ||
		fflush(stdout) != 0)
	{
		fprintf(stderr, "ts_sanitize: cannot write standard output\n");
		return 2;
	}
	print_changes(stderr, r.changes, "\n");
	ts_sanitize_result_free(&r);
	free(input);
	return 0;
}
