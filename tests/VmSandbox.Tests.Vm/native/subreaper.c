/*
 * subreaper PIDFILE RUNTIME ARGS...: stands where conmon and containerd-shim-runc-v2 stand for
 * `RUNTIME exec --detach --pid-file PIDFILE ...` (or `create`): a child subreaper that runs the
 * runtime and then collects the exit status of the PID the runtime wrote, its child by then.
 *
 * It makes the race that lost that status certain: the runtime writes PIDFILE through a temp
 * file, ".NAME" beside it, which is made a FIFO here, so the runtime blocks in its open until
 * this opens the other end, and that happens only once the helper the runtime started has
 * exited. A runtime that reaps its helper (.NET's Process does on SIGCHLD) leaves nothing to
 * collect. Prints "exit N" (exit 0), "status lost: ..." (1) or what else went wrong (2).
 * Every wait is bounded.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* The state letter of PID, 0 once it is gone (reaped). */
static char state_of(int pid, int *ppid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	char *close = strrchr(buf, ')'), state;
	if (!close || sscanf(close + 2, "%c %d", &state, ppid) != 2)
		return 0;
	return state;
}

static int child_of(int parent)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int found = 0, ppid;
	while (d && !found && (e = readdir(d)))
		if (atoi(e->d_name) > 0 && state_of(atoi(e->d_name), &ppid) && ppid == parent)
			found = atoi(e->d_name);
	if (d)
		closedir(d);
	return found;
}

/* Without reaping it. */
static int running(pid_t pid)
{
	siginfo_t info = { 0 };
	return waitid(P_PID, pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == 0;
}

/* What went wrong, with the runtime and its helper killed and reaped: nothing left behind. */
static int fail(pid_t runtime, pid_t helper, const char *fifo, const char *what)
{
	printf("%s\n", what);
	if (helper > 0)
		kill(helper, SIGKILL);
	if (runtime > 0) {
		kill(runtime, SIGKILL);
		waitpid(runtime, NULL, 0);
	}
	if (helper > 0)
		waitpid(helper, NULL, 0); /* ours by now, or ECHILD */
	unlink(fifo);
	return 2;
}

/* waitpid with a deadline: 1 with *status set, 0 on timeout, -1 on error (errno). */
static int wait_until(pid_t pid, int *status, double deadline)
{
	while (now() < deadline) {
		int r = waitpid(pid, status, WNOHANG);
		if (r != 0)
			return r == pid ? 1 : -1;
		usleep(10000);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: subreaper PIDFILE RUNTIME ARGS...\n");
		return 2;
	}
	char dir[4096], name[4096], fifo[8300];
	snprintf(dir, sizeof dir, "%s", argv[1]);
	snprintf(name, sizeof name, "%s", argv[1]);
	snprintf(fifo, sizeof fifo, "%s/.%s", dirname(dir), basename(name));
	if (mkfifo(fifo, 0600) != 0 || prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
		perror("mkfifo/prctl");
		return 2;
	}
	pid_t runtime = fork();
	if (runtime == 0) {
		execv(argv[2], argv + 2);
		_exit(127);
	}
	double deadline = now() + 120;
	int helper = 0, status, ppid;
	while (!helper && now() < deadline && running(runtime)) {
		helper = child_of(runtime);
		usleep(1000);
	}
	if (!helper)
		return fail(runtime, 0, fifo, "the runtime started no helper");
	/* The runtime now waits in its open of the FIFO (or is on its way there). */
	char state;
	while (now() < deadline && (state = state_of(helper, &ppid)) != 0 && state != 'Z')
		usleep(5000);
	int fd = open(fifo, O_RDONLY | O_NONBLOCK);
	char pidtext[32] = { 0 };
	struct pollfd p = { .fd = fd, .events = POLLIN };
	if (fd < 0 || poll(&p, 1, 60000) != 1 || read(fd, pidtext, sizeof pidtext - 1) <= 0)
		return fail(runtime, helper, fifo, "the runtime wrote no pid file");
	close(fd);
	status = 0;
	if (wait_until(runtime, &status, deadline) != 1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char what[64];
		snprintf(what, sizeof what, "the runtime failed: wait status %d", status);
		return fail(runtime, helper, fifo, what);
	}
	int pid = atoi(pidtext);
	int r = wait_until(pid, &status, deadline);
	if (r < 0) {
		printf("status lost: pid %d: %s\n", pid, strerror(errno));
		return 1;
	}
	if (r == 0)
		return fail(0, pid, fifo, "the helper still runs");
	printf("exit %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	return 0;
}
