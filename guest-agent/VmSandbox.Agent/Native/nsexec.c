// The container init's user-namespace step (ADR 0019), linked into the NativeAOT agent.
//
// unshare(CLONE_NEWUSER) and setns() into a user namespace refuse a multithreaded caller, and
// the .NET runtime starts its threads in main(). Like runc's nsexec (a cgo constructor for the
// same reason with Go), this runs as an ELF constructor, before main, while the process has one
// thread, and only when the agent started it as a container init with "--nsexec FLAGS":
//   u  unshare a new user namespace; the agent writes uid_map and gid_map from outside
//   j  join the user namespace open on fd 5 (an exec, or a pod member)
//   p  then unshare a pid namespace (owned by that user namespace, so that the container may
//      mount its proc) and fork: the child goes on as the container's PID 1, this process
//      stays as a relay that ends with the child's status
// Records go to the agent on fd 4: {type, value, step} as three native int32s; the pid record
// holds the relay's child as the guest counts it, or 0 when there is no relay.
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

enum { SYNC_FD = 4, USERNS_FD = 5 };
// Keep in step with NsExec.cs.
enum { MSG_NEED_MAPS = 1, MSG_PID = 2, MSG_ERROR = 3 };
enum { STEP_SETNS_USER = 1, STEP_UNSHARE_USER = 2, STEP_SETRESGID = 3, STEP_SETRESUID = 4, STEP_UNSHARE_PID = 5, STEP_FORK = 6 };

static void send_msg(int32_t type, int32_t value, int32_t step)
{
    int32_t m[3] = { type, value, step };
    const char *p = (const char *)m;
    size_t left = sizeof m;
    while (left > 0) {
        ssize_t n = write(SYNC_FD, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            _exit(127);
        p += n;
        left -= (size_t)n;
    }
}

static void fail(int32_t step)
{
    send_msg(MSG_ERROR, errno, step);
    _exit(127);
}

// The relay keeps nothing of the container's open (stdio EOF and the init channel depend on
// that) and ends the way the container's PID 1 ended, which is what the agent waits for.
static void relay(pid_t child)
{
    syscall(SYS_close_range, 0U, ~0U, 0U);
    int status = 0;
    for (;;) {
        pid_t r = waitpid(child, &status, 0);
        if (r == child)
            break;
        if (r < 0 && errno != EINTR)
            _exit(127);
    }
    if (WIFEXITED(status))
        _exit(WEXITSTATUS(status));
    int sig = WTERMSIG(status);
    struct rlimit nocore = { 0, 0 };
    setrlimit(RLIMIT_CORE, &nocore);
    signal(sig, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    kill(getpid(), sig);
    _exit(128 + sig);
}

__attribute__((constructor)) static void vmsandbox_nsexec(int argc, char **argv, char **envp)
{
    (void)envp;
    if (argc < 4 || strcmp(argv[1], "__container-init") != 0 || strcmp(argv[2], "--nsexec") != 0)
        return;
    const char *flags = argv[3];
    if (strchr(flags, 'j') != NULL) {
        if (setns(USERNS_FD, CLONE_NEWUSER) < 0)
            fail(STEP_SETNS_USER);
        close(USERNS_FD);
    } else if (strchr(flags, 'u') != NULL) {
        if (unshare(CLONE_NEWUSER) < 0)
            fail(STEP_UNSHARE_USER);
        send_msg(MSG_NEED_MAPS, 0, 0);
        char go = 0;
        ssize_t n;
        do {
            n = read(SYNC_FD, &go, 1);
        } while (n < 0 && errno == EINTR);
        if (n != 1 || go != 'm')
            _exit(127);
    }
    // Root of the namespace (runc's stage-2 does the same): the set-up that follows in .NET
    // runs with every capability in it, and files it creates belong to the mapped root.
    if (setresgid(0, 0, 0) < 0)
        fail(STEP_SETRESGID);
    if (setresuid(0, 0, 0) < 0)
        fail(STEP_SETRESUID);
    // The id change made the process non-dumpable, which would hand its /proc files to the
    // guest's root and keep an exec from opening its namespaces: runc sets it back too.
    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
    if (strchr(flags, 'p') != NULL) {
        if (unshare(CLONE_NEWPID) < 0)
            fail(STEP_UNSHARE_PID);
        pid_t child = fork();
        if (child < 0)
            fail(STEP_FORK);
        if (child > 0) {
            send_msg(MSG_PID, child, 0);
            relay(child);
        }
    } else {
        // 0: the agent's own pid for this process stands (getpid() here counts in the pid
        // namespace the agent put it in, not the guest's).
        send_msg(MSG_PID, 0, 0);
    }
    close(SYNC_FD);
}
