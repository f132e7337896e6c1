#ifndef C_SOCKET_DIAGNOSTICS_H
#define C_SOCKET_DIAGNOSTICS_H

#include <stdint.h>

/// The uid that owns the TCP socket whose local end is `local`:`local_port` and whose remote end is
/// `remote`:`remote_port` (addresses in network order, 4 bytes for AF_INET, 16 for AF_INET6, ports in host order),
/// asked of the kernel by an exact NETLINK_SOCK_DIAG lookup. Only a connected socket answers: one in SYN_RECV,
/// TIME_WAIT or LISTEN (which report uid 0 or another end) does not. Returns the uid, or -1 with errno set.
int64_t csockdiag_tcp_owner(int family, const uint8_t *local, uint16_t local_port, const uint8_t *remote, uint16_t remote_port);

#endif
