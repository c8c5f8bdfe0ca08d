/* replay.c: a plain main() for the libFuzzer targets, so `make test` runs their corpora under
 * ASan+UBSan without libFuzzer. Every file of the directories (or files) named on the command
 * line, or of tests/fuzz/corpus/<basename of argv[0]> when none are given, is read into a
 * buffer of exactly its size (so an over-read is caught) and passed to LLVMFuzzerTestOneInput. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	int rc = -1;
	if (!f) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &st) == 0) {
		size_t n = (size_t)st.st_size;
		uint8_t *buf = malloc(n ? n : 1);
		if (buf && fread(buf, 1, n, f) == n) {
			LLVMFuzzerTestOneInput(buf, n);
			rc = 0;
		} else {
			fprintf(stderr, "replay: %s: short read\n", path);
		}
		free(buf);
	}
	fclose(f);
	return rc;
}

/* returns the number of inputs run, -1 on an unreadable path */
static long run_path(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return run_file(path) == 0 ? 1 : -1;
	DIR *d = opendir(path);
	if (!d) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	long n = 0;
	struct dirent *de;
	char full[4096];
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(full, sizeof(full), "%s/%s", path, de->d_name);
		if (stat(full, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (run_file(full) != 0) {
			n = -1;
			break;
		}
		n++;
	}
	closedir(d);
	return n;
}

int main(int argc, char **argv)
{
	char def[4096];
	long total = 0;
	int bad = 0;

	if (argc < 2) {
		const char *base = strrchr(argv[0], '/');
		base = base ? base + 1 : argv[0];
		snprintf(def, sizeof(def), "tests/fuzz/corpus/%s", base);
		long n = run_path(def);
		if (n < 0)
			return 1;
		total = n;
	} else {
		for (int i = 1; i < argc; i++) {
			long n = run_path(argv[i]);
			if (n < 0)
				bad = 1;
			else
				total += n;
		}
	}
	printf("replayed %ld inputs\n", total);
	return bad;
}
