#ifndef C_SOCKET_DIAGNOSTICS_H
#define C_SOCKET_DIAGNOSTICS_H

#include <stdint.h>

/// The uid that owns the TCP socket whose local end is `local` and whose remote end is `remote`, both a
/// `struct sockaddr_in` or both a `struct sockaddr_in6`, asked of the kernel by an exact NETLINK_SOCK_DIAG lookup.
/// Only a connected socket answers: one in SYN_RECV, TIME_WAIT or LISTEN (which report uid 0 or another end) does
/// not. Returns the uid, or -1 with errno set.
int64_t csockdiag_tcp_owner(const void *local, const void *remote);

#endif
