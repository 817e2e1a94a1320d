/* The held-socket server of ci/boot's guests: serves the listening socket
 * svc hands it on fd 3 (LISTEN_FDS), answering each connection with
 * "hold PID\n". Built static for each guest (musl-gcc, arm-linux-musleabihf-gcc)
 * because busybox's servers all bind their own sockets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
	const char *n = getenv("LISTEN_FDS");
	char b[32];
	if (!n || atoi(n) < 1) return 3;
	int len = snprintf(b, sizeof b, "hold %d\n", (int)getpid());
	for (;;) {
		int c = accept(3, 0, 0);
		if (c < 0) continue;
		(void)write(c, b, (size_t)len);
		close(c);
	}
}
