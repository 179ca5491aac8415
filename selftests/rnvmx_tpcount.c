// SPDX-License-Identifier: GPL-2.0
/*
 * rnvmx_tpcount SYSTEM:EVENT -- COMMAND [ARGS...]
 *
 * Counts a trace event over COMMAND and all threads it creates, the way
 * `perf stat -e SYSTEM:EVENT -- COMMAND` does: a PERF_TYPE_TRACEPOINT
 * counter with the event's tracefs id, inherited by children, enabled on
 * exec.  Prints "@@RNVMX-PERF SYSTEM:EVENT=N" and exits with COMMAND's
 * status.  The test bed has no perf binary (it would bring dozens of shared
 * libraries into the initramfs); this is the same system call with the same
 * attributes, so what it counts, perf counts.
 */
#include <errno.h>
#include <linux/perf_event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static long event_id(const char *spec)
{
	char path[256], sys[64], *colon;
	FILE *f;
	long id = -1;

	colon = strchr(spec, ':');
	if (!colon || colon - spec >= (long)sizeof(sys))
		return -1;
	memcpy(sys, spec, colon - spec);
	sys[colon - spec] = 0;
	snprintf(path, sizeof(path), "/sys/kernel/tracing/events/%s/%s/id", sys, colon + 1);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%ld", &id) != 1)
		id = -1;
	fclose(f);
	return id;
}

int main(int argc, char **argv)
{
	struct perf_event_attr attr;
	int go[2], status, fd;
	uint64_t count;
	long id;
	pid_t child;
	char c = 0;

	if (argc < 4 || strcmp(argv[2], "--")) {
		fprintf(stderr, "usage: %s SYSTEM:EVENT -- COMMAND [ARGS...]\n", argv[0]);
		return 2;
	}
	id = event_id(argv[1]);
	if (id < 0) {
		fprintf(stderr, "%s: no trace event %s\n", argv[0], argv[1]);
		return 2;
	}
	if (pipe(go))
		return 2;
	child = fork();
	if (child < 0)
		return 2;
	if (!child) {
		/* Wait until the counter is attached, then run COMMAND. */
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(127);
		execv(argv[3], argv + 3);
		perror(argv[3]);
		_exit(127);
	}
	close(go[0]);
	memset(&attr, 0, sizeof(attr));
	attr.size = sizeof(attr);
	attr.type = PERF_TYPE_TRACEPOINT;
	attr.config = id;
	attr.disabled = 1;
	attr.inherit = 1;
	attr.enable_on_exec = 1;
	fd = syscall(SYS_perf_event_open, &attr, child, -1, -1, 0);
	if (fd < 0)
		fprintf(stderr, "%s: perf_event_open: %s\n", argv[0], strerror(errno));
	if (write(go[1], &c, 1) != 1)
		return 2;
	close(go[1]);
	if (waitpid(child, &status, 0) != child)
		return 2;
	if (fd >= 0 && read(fd, &count, sizeof(count)) == sizeof(count))
		printf("@@RNVMX-PERF %s=%llu\n", argv[1], (unsigned long long)count);
	else
		printf("@@RNVMX-PERF %s=-1\n", argv[1]);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
