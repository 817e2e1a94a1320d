/* The stand-in service of ci/bench: one tiny static program (musl-gcc -static)
 * so that the services cost the same under every supervisor. The mode is
 * argv[1], else $STUB_MODE (always when called as ./run: run-directory
 * supervisors run a symlink to this file), else "sleep". Timestamps are CLOCK_MONOTONIC in ns,
 * appended to $STUB_FILE (or argv[2]) with one write(2) each (O_APPEND keeps
 * lines whole when many services share the file).
 *
 *   sleep [FILE]      "S NS PID" at start, then pause() forever
 *   exit [FILE]       "S NS PID" at start, "E NS PID" just before exit(0)
 *   chatty FILE KIB   KIB KiB of 64-byte lines on stdout, then "S NS PID",
 *                     then pause() forever (fills a log ring)
 *   serve [PORT]      answer each connection with "PID\n" and close it; the
 *                     socket is inherited (LISTEN_FDS: fd 3;
 *                     SERVER_STARTER_PORT=...=FD: that fd) or, else, bound
 *                     here to 127.0.0.1:PORT ($STUB_PORT). SIGTERM, SIGHUP,
 *                     SIGQUIT: finish the connection in hand, then exit 0
 *   floor N FILE      the physical floor of a restart: N times fork, exec
 *                     "stub exit FILE", waitpid
 *   stampexec FILE PROG ARGS...  write the time to FILE, then exec PROG
 *   now               print the time
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void stamp(const char *file, char tag) {
  if (!file || !*file) return;
  char b[64];
  int n = snprintf(b, sizeof b, "%c %lld %d\n", tag, now_ns(), (int)getpid());
  int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return;
  (void)!write(fd, b, n);
  close(fd);
}

static volatile sig_atomic_t stopping;
static void on_stop(int s) { (void)s; stopping = 1; }

static int listener(const char *port) {
  const char *lf = getenv("LISTEN_FDS");
  if (lf && atoi(lf) >= 1) return 3;
  const char *ss = getenv("SERVER_STARTER_PORT"); /* HOST:PORT=FD[;...] */
  if (ss) {
    const char *eq = strchr(ss, '=');
    if (eq) return atoi(eq + 1);
  }
  if (!port) port = getenv("STUB_PORT");
  if (!port) return -1;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(port)),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  for (int i = 0; i < 200; i++) { /* the old one may still hold the port */
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && listen(fd, 1024) == 0) return fd;
    usleep(5000);
  }
  return -1;
}

static int serve(const char *port) {
  struct sigaction sa = {.sa_handler = on_stop}; /* no SA_RESTART: accept returns EINTR */
  sigaction(SIGTERM, &sa, 0);
  sigaction(SIGHUP, &sa, 0);
  sigaction(SIGQUIT, &sa, 0);
  int l = listener(port);
  if (l < 0) return 111;
  char b[32];
  int n = snprintf(b, sizeof b, "%d\n", (int)getpid());
  while (!stopping) {
    int c = accept4(l, 0, 0, SOCK_CLOEXEC);
    if (c < 0) continue;
    (void)!write(c, b, n);
    close(c);
  }
  return 0;
}

static int floor_loop(int n, const char *self, const char *file) {
  for (int i = 0; i < n; i++) {
    pid_t p = fork();
    if (p == 0) {
      execl(self, self, "exit", file, (char *)0);
      _exit(127);
    }
    int st;
    waitpid(p, &st, 0);
  }
  return 0;
}

int main(int argc, char **argv) {
  /* As ./run of a service directory: s6-supervise passes the service's name
   * as argv[1], so the mode is always from the environment. */
  size_t l0 = strlen(argv[0]);
  if (l0 >= 3 && !strcmp(argv[0] + l0 - 3, "run")) argc = 1;
  const char *mode = argc > 1 ? argv[1] : getenv("STUB_MODE");
  const char *file = argc > 2 ? argv[2] : getenv("STUB_FILE");
  if (!mode) mode = "sleep";
  if (!strcmp(mode, "sleep")) {
    stamp(file, 'S');
    for (;;) pause();
  }
  if (!strcmp(mode, "exit")) {
    stamp(file, 'S');
    stamp(file, 'E');
    return 0;
  }
  if (!strcmp(mode, "chatty") && argc > 3) {
    char line[64];
    memset(line, 'x', sizeof line);
    line[sizeof line - 1] = '\n';
    for (int i = 0, n = atoi(argv[3]) * 16; i < n; i++) (void)!write(1, line, sizeof line);
    stamp(file, 'S');
    for (;;) pause();
  }
  if (!strcmp(mode, "serve")) return serve(argc > 2 ? argv[2] : 0);
  if (!strcmp(mode, "floor") && argc > 3) {
    char self[4096];
    ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
    if (k <= 0) return 1;
    self[k] = 0;
    return floor_loop(atoi(argv[2]), self, argv[3]);
  }
  if (!strcmp(mode, "stampexec") && argc > 3) {
    stamp(argv[2], 'T');
    execvp(argv[3], argv + 3);
    return 127;
  }
  if (!strcmp(mode, "now")) {
    printf("%lld\n", now_ns());
    return 0;
  }
  fputs("usage: stub sleep|exit [FILE] | chatty FILE KIB | serve [PORT] | floor N FILE | stampexec FILE PROG... | now\n", stderr);
  return 2;
}
