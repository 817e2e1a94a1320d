/* The load client of ci/bench's deploy figure: connects to 127.0.0.1:PORT
 * one connection at a time (about one per millisecond), reads the answer
 * (the serving pid), and counts each outcome. Bounded: it stops when FILE
 * STOP exists, after MAX_S seconds, or after 1,000,000 connections.
 * Each change of the answering pid is written to stdout as
 * "P REALTIME_NS PID", each change of outcome as "O REALTIME_NS OUTCOME"
 * (ok, refused, reset, timeout, empty, other); the counts come last:
 * "C ok N refused N reset N timeout N empty N other N".
 *
 *   load PORT MAX_S STOP
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long long clk(clockid_t c) {
  struct timespec t;
  clock_gettime(c, &t);
  return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

enum { OK, REFUSED, RESET, TIMEOUT, EMPTY, OTHER, N };

static int one(const struct sockaddr_in *a, int *pid) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return OTHER;
  int r = OTHER;
  struct pollfd p = {.fd = fd};
  if (connect(fd, (const struct sockaddr *)a, sizeof *a) < 0) {
    if (errno == ECONNREFUSED) { r = REFUSED; goto out; }
    if (errno != EINPROGRESS) goto out;
    p.events = POLLOUT;
    if (poll(&p, 1, 1000) == 0) { r = TIMEOUT; goto out; }
    int e = 0;
    socklen_t l = sizeof e;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l);
    if (e == ECONNREFUSED) { r = REFUSED; goto out; }
    if (e == ECONNRESET) { r = RESET; goto out; }
    if (e) goto out;
  }
  char b[32];
  int got = 0;
  for (;;) {
    p.events = POLLIN;
    if (poll(&p, 1, 1000) == 0) { r = TIMEOUT; goto out; }
    ssize_t k = read(fd, b + got, sizeof b - 1 - got);
    if (k < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      r = errno == ECONNRESET ? RESET : OTHER;
      goto out;
    }
    if (k == 0) break;
    got += k;
    if (got >= (int)sizeof b - 1) break;
  }
  if (got == 0) { r = EMPTY; goto out; }
  b[got] = 0;
  *pid = atoi(b);
  r = OK;
out:
  close(fd);
  return r;
}

int main(int argc, char **argv) {
  if (argc != 4) { fputs("usage: load PORT MAX_S STOP\n", stderr); return 2; }
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1])),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  long long end = clk(CLOCK_MONOTONIC) + atoll(argv[2]) * 1000000000LL;
  long c[N] = {0};
  int last = 0, lastr = OK;
  static const char *const names[N] = {"ok", "refused", "reset", "timeout", "empty", "other"};
  setvbuf(stdout, 0, _IOLBF, 0);
  for (long i = 0; i < 1000000 && clk(CLOCK_MONOTONIC) < end; i++) {
    if (access(argv[3], F_OK) == 0) break;
    int pid = 0, r = one(&a, &pid);
    c[r]++;
    if (r != lastr) {
      printf("O %lld %s\n", clk(CLOCK_REALTIME), names[r]);
      lastr = r;
    }
    if (r == OK && pid != last) {
      printf("P %lld %d\n", clk(CLOCK_REALTIME), pid);
      last = pid;
    }
    usleep(1000);
  }
  printf("C ok %ld refused %ld reset %ld timeout %ld empty %ld other %ld\n", c[OK], c[REFUSED],
         c[RESET], c[TIMEOUT], c[EMPTY], c[OTHER]);
  return 0;
}
