# A web app of this release: it serves the socket svc holds (LISTEN_FDS: fd 3)
# and answers each connection with its release and pid. On SIGTERM it stops
# accepting and exits; connections it has not accepted wait for the next.
import os, signal, socket

release = os.path.basename(os.path.dirname(os.path.abspath(__file__)))
listener = socket.socket(fileno=3)
listener.settimeout(0.25)
stopping = False

def stop(*_):
    global stopping
    stopping = True

signal.signal(signal.SIGTERM, stop)
while not stopping:
    try:
        conn, _ = listener.accept()
    except (socket.timeout, InterruptedError):
        continue
    with conn:
        conn.settimeout(5)
        conn.recv(4096)
        body = f"{release} pid {os.getpid()}\n"
        conn.sendall(f"HTTP/1.0 200 OK\r\nContent-Length: {len(body)}\r\n\r\n{body}".encode())
