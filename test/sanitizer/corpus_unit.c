/*
 * corpus_unit.c
 *		Runs every file of the fuzz corpus through the fuzz harness's property
 *		checks (fuzz/sanitizer_properties.c) as a plain TAP test, so the
 *		regular suite covers what the fuzzer found without needing clang.
 *		Every file is checked as .ts and as .tsx (the fuzzer runs both).
 *
 *	 test/sanitizer/corpus_unit [DIR]	(default fuzz/corpus)
 */
#define _POSIX_C_SOURCE 200809L

#include "../../fuzz/sanitizer_properties.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/tap.h"

/*
 * qsort comparator for file names.
 */
static int
compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/*
 * Read a whole file; returns NULL on error.
 */
static unsigned char *
read_file(const char *path, size_t *len)
{
	FILE	   *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	long		size;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 &&
		fseek(f, 0, SEEK_SET) == 0)
	{
		/* +1 so that an empty file still gets a distinct allocation */
		buf = malloc((size_t) size + 1);
		if (buf != NULL && fread(buf, 1, (size_t) size, f) != (size_t) size)
		{
			free(buf);
			buf = NULL;
		}
		*len = (size_t) size;
	}
	fclose(f);
	return buf;
}

int
main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "fuzz/corpus";
	DIR		   *d = opendir(dir);
	struct dirent *entry;
	char	  **names = NULL;
	size_t		count = 0;
	size_t		cap = 0;
	size_t		i;

	if (d == NULL)
	{
		printf("1..0 # SKIP cannot open %s\n", dir);
		return 1;
	}
	while ((entry = readdir(d)) != NULL)
	{
		if (entry->d_name[0] == '.')
			continue;
		if (count == cap)
		{
			cap = cap ? cap * 2 : 64;
			names = realloc(names, cap * sizeof(char *));
			if (names == NULL)
				return 2;
		}
		names[count++] = strdup(entry->d_name);
	}
	closedir(d);
	if (count == 0)
	{
		printf("1..0 # SKIP %s is empty\n", dir);
		return 1;
	}
	qsort(names, count, sizeof(char *), compare_names);

	tap_plan(count * 2);
	for (i = 0; i < count; i++)
	{
		char		path[4096];
		char		name[4096 + 512];
		size_t		len = 0;
		unsigned char *data;
		const char *failure;
		int			kind;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		data = read_file(path, &len);
		for (kind = TS_SOURCE_TS; kind <= TS_SOURCE_TSX; kind++)
		{
			if (data == NULL)
				failure = "cannot read the file";
			else
				failure = sanitizer_check_properties(data, len, (ts_source_kind) kind);
			snprintf(name, sizeof(name), "fuzz corpus %s as %s%s%s", names[i],
					 kind == TS_SOURCE_TSX ? ".tsx" : ".ts",
					 failure ? ": " : "", failure ? failure : "");
			ok(failure == NULL, name);
		}
		free(data);
		free(names[i]);
	}
	free(names);
	return tap_exit_status();
}
