#ifndef C_PROCESS_CONTROL_H
#define C_PROCESS_CONTROL_H

/// Marks the process non-dumpable: no core dumps, no ptrace or /proc/PID/mem by other processes of the user.
/// Returns 0 on success, -1 with errno set on failure.
int cprocess_disable_dumping(void);

#include <sys/types.h>

/// The layout of `struct ucred` (SO_PEERCRED), which glibc declares only under _GNU_SOURCE.
typedef struct {
    pid_t pid;
    uid_t uid;
    gid_t gid;
} cprocess_peer_credentials;

/// timerfd (wall-clock refresh deadlines), which Swift's Glibc module does not export.
#include <sys/timerfd.h>

#endif
