#include "CSocketDiagnostics.h"

#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int64_t csockdiag_tcp_owner(int family, const uint8_t *local, uint16_t local_port, const uint8_t *remote, uint16_t remote_port) {
    size_t length = family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
    if (length == 0) {
        errno = EAFNOSUPPORT;
        return -1;
    }
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0) return -1;
    // The kernel answers at once; a second bounds a kernel that does not.
    struct timeval timeout = {.tv_sec = 1};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);

    struct {
        struct nlmsghdr header;
        struct inet_diag_req_v2 request;
    } message;
    memset(&message, 0, sizeof message);
    message.header.nlmsg_len = sizeof message;
    message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    message.header.nlmsg_flags = NLM_F_REQUEST;
    message.request.sdiag_family = (uint8_t)family;
    message.request.sdiag_protocol = IPPROTO_TCP;
    message.request.idiag_states = ~0U;
    message.request.id.idiag_sport = htons(local_port);
    message.request.id.idiag_dport = htons(remote_port);
    memcpy(message.request.id.idiag_src, local, length);
    memcpy(message.request.id.idiag_dst, remote, length);
    message.request.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
    message.request.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;

    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    if (sendto(fd, &message, sizeof message, 0, (struct sockaddr *)&kernel, sizeof kernel) != (ssize_t)sizeof message) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    union {
        struct nlmsghdr header;
        char bytes[8192];
    } answer;
    ssize_t received;
    do {
        received = recv(fd, &answer, sizeof answer, 0);
    } while (received < 0 && errno == EINTR);
    int saved = errno;
    close(fd);
    if (received < 0) {
        errno = saved;
        return -1;
    }
    struct nlmsghdr *header = &answer.header;
    if (!NLMSG_OK(header, (size_t)received)) {
        errno = EPROTO;
        return -1;
    }
    if (header->nlmsg_type == NLMSG_ERROR) {
        const struct nlmsgerr *error = NLMSG_DATA(header);
        errno = error->error < 0 ? -error->error : EPROTO;
        return -1;
    }
    if (header->nlmsg_type != SOCK_DIAG_BY_FAMILY || header->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg))) {
        errno = EPROTO;
        return -1;
    }
    const struct inet_diag_msg *socket = NLMSG_DATA(header);
    // The socket found must be the one asked about, and connected: TIME_WAIT and SYN_RECV entries report uid 0.
    int connected = socket->idiag_state == TCP_ESTABLISHED || socket->idiag_state == TCP_CLOSE_WAIT
        || socket->idiag_state == TCP_FIN_WAIT1 || socket->idiag_state == TCP_FIN_WAIT2;
    if (!connected || socket->id.idiag_sport != htons(local_port) || socket->id.idiag_dport != htons(remote_port)
        || memcmp(socket->id.idiag_src, local, length) != 0 || memcmp(socket->id.idiag_dst, remote, length) != 0) {
        errno = ESRCH;
        return -1;
    }
    return (int64_t)socket->idiag_uid;
}
